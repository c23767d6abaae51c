"""Data loaders: price files, profiles and the data sources a case refers to."""
