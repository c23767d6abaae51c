"""Exchange-ready orders: Nord Pool Auction API shapes, exchange rules and export formats.

- ``orders``: pydantic models of the Auction API JSON bodies and of ``dayahead_orders.json``.
- ``contracts``: the (replaceable) function that names auctions and contracts.
- ``rules``: ``ExchangeRules`` (dated defaults) and ``validate`` / ``validate_fcr_bids`` /
  ``validate_continuous_orders``.
- ``export``: reading and writing order files, FCR bid and continuous intraday order CSVs,
  curve-building helpers.
- ``files``: which rules a file is checked against, told from its content (``bidopt validate``).
"""
