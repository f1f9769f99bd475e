"""A module's namespace with one of its functions replaced, so that its callers call
the replacement: how a mutant of a layer function (``affine_backward`` called from a
``loss``), of a method (``TwoLayerNet.loss``) or of a cost function is checked through
the functions that use it.

:func:`namespace_with` copies the namespace and rebuilds, on the copy, every function
the module defines (``types.FunctionType(code, copy, ...)``: the same code, the copy
as globals) and every class it defines (each method rebuilt the same way), so that a
call by name inside any of them reaches what the copy holds; then it puts the
replacement in, as a top-level function or as a method of the rebuilt class. Objects
of the module's classes held at the top level (``net = TwoLayerNet(...)``) are copied
into the rebuilt classes. Nothing of the original module changes.

>>> import types
>>> module = types.ModuleType("m")
>>> exec("def inner(x):\\n    return x + 1\\ndef outer(x):\\n    return 2 * inner(x)\\n",
...      vars(module))
>>> copy = namespace_with(vars(module), "inner", lambda x: x - 1)
>>> copy["outer"](3), module.outer(3)
(4, 8)
"""

from __future__ import annotations

import builtins
import copy as copying
import types
from collections.abc import Callable, Mapping
from typing import Any

from gcverify.errors import invalid_argument

__all__ = ["namespace_with"]

# What a class's __dict__ holds that type() makes itself.
_MADE_BY_TYPE = ("__dict__", "__weakref__")


def namespace_with(namespace: Mapping[str, Any], name: str,
                   replacement: Callable[..., Any]) -> dict[str, Any]:
    """A copy of ``namespace`` where the function ``name`` (or the method
    ``Class.method``) is ``replacement``, and every function and class of the module
    is rebuilt on the copy (see the module docstring)."""
    rebuilt: dict[str, Any] = dict(namespace)
    # A namespace sent to a Dask worker comes without them; the functions need them.
    rebuilt.setdefault("__builtins__", builtins)
    module = namespace.get("__name__")
    classes: dict[type, type] = {}
    for key, value in namespace.items():
        if isinstance(value, types.FunctionType) and value.__module__ == module:
            rebuilt[key] = _function_on(value, rebuilt)
        elif isinstance(value, type) and value.__module__ == module:
            classes[value] = rebuilt[key] = _class_on(value, rebuilt, classes)
    for key, value in namespace.items():
        if type(value) in classes:
            rebuilt[key] = _object_of(value, classes[type(value)])
    *owner, function = name.split(".")
    placed: Any = _function_on(replacement, rebuilt, name=function) \
        if isinstance(replacement, types.FunctionType) else replacement
    if not owner:
        rebuilt[function] = placed
        return rebuilt
    cls = rebuilt.get(owner[0])
    for part in owner[1:]:
        cls = getattr(cls, part, None)
    if not isinstance(cls, type):
        raise invalid_argument("name", name, f"names no class of the module {module}",
                               "pass a top-level function, or Class.method")
    original = cls.__dict__.get(function)
    if isinstance(original, (staticmethod, classmethod)):
        placed = type(original)(placed)
    setattr(cls, function, placed)
    return rebuilt


def _function_on(function: types.FunctionType, namespace: dict[str, Any], *,
                 name: str | None = None) -> types.FunctionType:
    """``function``'s code with ``namespace`` as its globals (its defaults, keyword
    defaults, closure and names kept)."""
    made = types.FunctionType(function.__code__, namespace, name or function.__name__,
                              function.__defaults__, function.__closure__)
    made.__kwdefaults__ = function.__kwdefaults__
    made.__qualname__ = function.__qualname__
    made.__dict__.update(function.__dict__)
    return made


def _class_on(cls: type, namespace: dict[str, Any], classes: Mapping[type, type]) -> type:
    """A new class like ``cls`` whose methods are rebuilt on ``namespace`` (its bases
    rebuilt too when the module defines them); a subclass of ``cls`` if it cannot be
    remade (``__slots__``, a metaclass that refuses)."""
    members = {key: _member_on(value, namespace) for key, value in vars(cls).items()
               if key not in _MADE_BY_TYPE}
    bases = tuple(classes.get(base, base) for base in cls.__bases__)
    try:
        return type(cls)(cls.__name__, bases, members)
    except (TypeError, ValueError):
        overrides = {key: value for key, value in members.items()
                     if value is not vars(cls)[key]}
        return type(cls)(cls.__name__, (cls,), {**overrides, "__qualname__": cls.__qualname__,
                                                "__module__": cls.__module__})


def _member_on(value: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(value, types.FunctionType):
        return _function_on(value, namespace)
    if isinstance(value, (staticmethod, classmethod)) and isinstance(value.__func__,
                                                                      types.FunctionType):
        return type(value)(_function_on(value.__func__, namespace))
    if isinstance(value, property):
        def on(part: Any) -> Any:
            return _function_on(part, namespace) if isinstance(part, types.FunctionType) \
                else part
        return property(on(value.fget), on(value.fset), on(value.fdel), value.__doc__)
    return value


def _object_of(value: Any, cls: type) -> Any:
    """A shallow copy of ``value`` as an instance of the rebuilt ``cls`` (or ``value``
    itself if it cannot change class)."""
    try:
        made = copying.copy(value)
        made.__class__ = cls
    except (TypeError, AttributeError):
        return value
    return made
