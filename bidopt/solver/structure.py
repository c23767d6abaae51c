"""The structure a compiled model was compiled from, and a cheap check that it is still the model's.

``Persistent`` re-reads only what mutable values (Params, fixed variables) reach. Everything else
it keeps from the compile, so a change of structure made to the Pyomo model between solves would go
unseen: a constraint added (a new component, or a new index of an indexed one), a constraint
deactivated or activated again, a constraint's expression replaced (``set_value``), a named
expression's content replaced, a variable's domain or constant bound changed, an objective added,
switched or its sense changed, a block deactivated or activated. ``Structure(m, mm)`` notes all of
these at compile time; ``same()`` compares them with the model as it is now, by identity where it
can (the objects Pyomo holds are replaced on every such change), so a false "changed" costs one
recompile and a missed change cannot happen for the changes listed.

The check reads Pyomo's private attributes (``_active``, ``_expr``, ``_args_``, ``_domain``, ``_lb``,
``_ub``, ``_sense``, ``Block._decl``): part of the solver adapter (``bidopt.solver``). It costs about
as much as listing the model's constraints once (a few tens of microseconds on a day's model).
"""

from __future__ import annotations

from operator import attrgetter, is_

from pyomo.core.base import Constraint, Objective

_ACTIVE = attrgetter("_active")
_EXPR = attrgetter("_expr")
_ARGS = attrgetter("_args_")
_DOMAIN = attrgetter("_domain")
_LB = attrgetter("_lb")
_UB = attrgetter("_ub")
_SENSE = attrgetter("_sense")


def _same_objects(new, old: list) -> bool:
    """Whether ``new`` holds the very objects of ``old`` (expressions: never compared by value)."""
    return all(map(is_, new, old))


class Structure:
    """A compiled model's structure (see the module docstring)."""

    def __init__(self, m, columns: list, named: list):
        """``columns``: the compiled variables; ``named``: the named expressions the compile read."""
        self.blocks = list(m.block_data_objects(active=None, descend_into=True))
        self.block_sizes = [len(b._decl) for b in self.blocks]
        self.block_active = list(map(_ACTIVE, self.blocks))
        self.components = list(m.component_objects((Constraint, Objective), active=None, descend_into=True))
        self.component_sizes = list(map(len, self.components))
        self.cons = list(m.component_data_objects(Constraint, active=None, descend_into=True))
        self.con_active = list(map(_ACTIVE, self.cons))
        self.con_exprs = list(map(_EXPR, self.cons))
        self.objs = list(m.component_data_objects(Objective, active=None, descend_into=True))
        self.obj_active = list(map(_ACTIVE, self.objs))
        self.obj_args = list(map(_ARGS, self.objs))
        self.obj_sense = list(map(_SENSE, self.objs))
        self.named = list(named)
        self.named_args = list(map(_ARGS, self.named))
        self.columns = columns
        self.domains = list(map(_DOMAIN, columns))
        self.lbs = list(map(_LB, columns))
        self.ubs = list(map(_UB, columns))

    def same(self) -> bool:
        """Whether the model still has the structure it was compiled with."""
        try:
            return self._same()
        except Exception:  # noqa: BLE001 - comparing replaced Pyomo objects may raise: a change
            return False

    def _same(self) -> bool:
        # lists compare item by item, identity first, so unchanged objects cost no comparison; a
        # replaced object is compared by value (a constant bound set to an equal number is no change)
        blocks = self.blocks
        if list(map(len, (b._decl for b in blocks))) != self.block_sizes:
            return False  # a component added or deleted (a constraint, a block, an objective)
        if list(map(_ACTIVE, blocks)) != self.block_active:
            return False
        if list(map(len, self.components)) != self.component_sizes:
            return False  # an index added to or removed from a constraint or objective
        cons, objs = self.cons, self.objs
        if list(map(_ACTIVE, cons)) != self.con_active or list(map(_ACTIVE, objs)) != self.obj_active:
            return False  # deactivated or activated again
        if not (_same_objects(map(_EXPR, cons), self.con_exprs) and _same_objects(map(_ARGS, objs), self.obj_args)):
            return False  # an expression replaced
        if list(map(_SENSE, objs)) != self.obj_sense:
            return False
        if not _same_objects(map(_ARGS, self.named), self.named_args):
            return False  # a named expression's content replaced
        cols = self.columns
        return (list(map(_DOMAIN, cols)) == self.domains and list(map(_LB, cols)) == self.lbs
                and list(map(_UB, cols)) == self.ubs)
