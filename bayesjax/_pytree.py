"""A mixin for the small value classes (priors, likelihoods) that are JAX pytrees."""

from __future__ import annotations


class Fields:
    """A pytree whose leaves are the attributes named in ``_fields``, in that order.

    ``tree_unflatten`` bypasses ``__init__`` (leaves may be tracers, which validation must not
    see); ``repr`` shows the fields. Subclasses still need ``@register_pytree_node_class``.
    """

    _fields: tuple[str, ...] = ()

    def tree_flatten(self):
        return tuple(getattr(self, name) for name in self._fields), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        for name, value in zip(cls._fields, children, strict=True):
            setattr(obj, name, value)
        return obj

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({args})"
