"""``@step`` and ``@pipeline``: Python functions whose inputs and outputs are versioned artifacts.

Calling a pipeline runs its body once to build the graph: inside the body, calling a step does not run it but
records an invocation and returns output handles (one per output; a tuple of them for a step annotated with a
tuple return). Handles passed to later steps are the edges, so the graph is acyclic by construction. Then
``engine.run`` executes the invocations (docs/python-pipelines.md, "Reference").

Outside a pipeline body a step is a plain function: calling it runs it and returns its value (nothing stored).
"""

from __future__ import annotations

import functools
import inspect
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import ArtError
from ..errors import FlowError, PipelineParamError
from .values import Handle, check_json

DEFAULT_OUTPUT = "output"
EXECUTORS = ("local", "dask")
_BUILD = threading.local()  # .graph: the Graph a pipeline body is building on this thread


def _current() -> Graph | None:
    return getattr(_BUILD, "graph", None)


@dataclass(frozen=True, slots=True)
class Output:
    """One declared output of a step: its name and its annotation (for the materializer)."""

    name: str
    annotation: Any = None


class OutputHandle(Handle):
    """What a step call returns inside a pipeline body: a reference to one output of that invocation, to be
    passed to other steps. It has no value while the pipeline is built."""

    __slots__ = ("graph", "invocation", "output")

    def __init__(self, graph: Graph, invocation: Invocation, output: str) -> None:
        self.graph, self.invocation, self.output = graph, invocation, output

    @property
    def artifact(self) -> str:
        return f"{self.graph.pipeline_name}/{self.invocation.name}/{self.output}"

    def __repr__(self) -> str:
        return f"<output {self.artifact} (a step output: pass it to another step)>"

    def _misuse(self, *_: Any, **__: Any) -> Any:
        raise FlowError(
            f"{self.artifact} is a step output, not a value, while the pipeline is being built",
            hint="pass it to another step and use the value inside that step",
        )

    __bool__ = __iter__ = __len__ = __getitem__ = __call__ = __index__ = __float__ = __int__ = _misuse
    __add__ = __sub__ = __mul__ = __truediv__ = __lt__ = __gt__ = __le__ = __ge__ = _misuse
    __hash__ = object.__hash__


@dataclass(slots=True, eq=False)
class Invocation:
    """One call of a step in a pipeline body: its unique name in the pipeline (the function name, ``NAME_2``
    for a second call), its parameters (plain JSON values, defaults included) and its inputs (handles)."""

    name: str
    step: Step
    params: dict[str, Any]
    inputs: dict[str, OutputHandle]
    index: int

    @property
    def upstream(self) -> set[str]:
        return {h.invocation.name for h in self.inputs.values()}


@dataclass(slots=True)
class Graph:
    """The invocations a pipeline body made, in call order (a topological order)."""

    pipeline_name: str
    invocations: list[Invocation] = field(default_factory=list)

    def add(self, step: Step, args: tuple, kwargs: dict) -> Any:
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise FlowError(f"step {step.name}: {exc}", hint=f"its signature is {step.name}{step.signature}") from None
        bound.apply_defaults()
        params: dict[str, Any] = {}
        inputs: dict[str, OutputHandle] = {}
        for pname, value in bound.arguments.items():
            kind = step.signature.parameters[pname].kind
            if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise FlowError(
                    f"step {step.name} takes *{pname}: steps need named parameters",
                    hint="declare each input and parameter by name",
                )
            if isinstance(value, OutputHandle):
                if value.graph is not self:
                    raise FlowError(
                        f"step {step.name}: argument {pname!r} is {value.artifact} from another pipeline run",
                        hint="a step output can only be passed to steps of the same pipeline run",
                    )
                inputs[pname] = value
            else:
                params[pname] = check_json(value, f"parameter {pname!r} of step {step.name}")
        base = step.name
        taken = {i.name for i in self.invocations}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        inv = Invocation(name, step, params, inputs, len(self.invocations))
        self.invocations.append(inv)
        outputs, is_tuple = step.outputs
        handles = tuple(OutputHandle(self, inv, o.name) for o in outputs)
        return handles if is_tuple else handles[0]


class Step:
    """A step: ``@step`` / ``@step(cache=False, name=...)`` on a function. Called inside a pipeline body it
    records an invocation and returns output handles; called anywhere else it simply runs the function."""

    def __init__(self, fn: Callable, *, cache: bool = True, name: str | None = None) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise FlowError(f"@step needs a function, not {fn!r}")
        self.fn = fn
        self.cache = bool(cache)
        self.name = name or fn.__name__
        if not self.name.isidentifier():
            raise FlowError(f"step name {self.name!r} is not an identifier", hint="name it like a Python function")
        self.signature = inspect.signature(fn)
        self._outputs: tuple[list[Output], bool] | None = None
        functools.update_wrapper(self, fn)

    @property
    def call(self) -> str:
        """``module:qualname`` of the function (recorded as the run's ``call``)."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    @property
    def outputs(self) -> tuple[list[Output], bool]:
        """The declared outputs and whether the function returns them as a tuple (from its return annotation)."""
        if self._outputs is None:
            self._outputs = output_spec(self.fn, self.name)
        return self._outputs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        graph = _current()
        if graph is None:
            return self.fn(*args, **kwargs)
        return graph.add(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name} ({self.call})>"


def _annotated_name(ann: Any) -> tuple[str | None, Any]:
    if typing.get_origin(ann) is typing.Annotated:
        names = [m for m in ann.__metadata__ if isinstance(m, str)]
        return (names[0] if names else None), typing.get_args(ann)[0]
    return None, ann


def output_spec(fn: Callable, step: str) -> tuple[list[Output], bool]:
    """The outputs a return annotation declares: ``Annotated[T, "name"]`` names one; ``tuple[A, B]`` is two
    (``output_0``, ``output_1``, or the names of ``Annotated`` members); anything else is one ``output``."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # an annotation that does not resolve: fall back to the raw one
        hints = dict(getattr(fn, "__annotations__", {}))
    if "return" not in hints:
        return [Output(DEFAULT_OUTPUT)], False
    name, inner = _annotated_name(hints["return"])
    if name is not None:
        return [Output(_valid_output(name, step), inner)], False
    args = typing.get_args(inner) if typing.get_origin(inner) is tuple else ()
    if len(args) >= 2 and Ellipsis not in args:
        outs = []
        for i, member in enumerate(args):
            mname, mtype = _annotated_name(member)
            outs.append(Output(_valid_output(mname or f"output_{i}", step), mtype))
        if len({o.name for o in outs}) != len(outs):
            raise FlowError(f"step {step}: two outputs have the same name", hint="give each output its own name")
        return outs, True
    return [Output(DEFAULT_OUTPUT, inner)], False


def _valid_output(name: str, step: str) -> str:
    if not name or "/" in name or name in (".", "..") or len(name) > 100 or not name.isprintable():
        raise FlowError(f"step {step}: output name {name!r} is not usable", hint="use a short name without '/'")
    return name


class Pipeline:
    """A pipeline: ``@pipeline`` / ``@pipeline(name=...)`` on a function whose body calls steps.

    Calling it (``digits_pipeline(gamma=0.01)``) builds the graph and runs it in the art repository found from
    the current directory; it returns a ``PipelineRun``. Call-time keywords (unless the function has parameters
    of these names; ``with_options`` always works): ``cache=False`` runs every step even when a cached run
    exists, ``jobs=N`` runs up to N independent steps at once. Where steps run (``executor="dask"`` and its
    settings) is set with ``with_options`` only.
    """

    RESERVED = ("cache", "jobs")

    def __init__(
        self,
        fn: Callable,
        *,
        name: str | None = None,
        cache: bool = True,
        jobs: int = 1,
        root: Any = None,
        on_event: Callable[[str, str, str], None] | None = None,
        executor: str | None = None,
        executor_options: dict[str, Any] | None = None,
    ) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise FlowError(f"@pipeline needs a function, not {fn!r}")
        if executor is not None and executor not in EXECUTORS:
            raise FlowError(f"unknown executor {executor!r}", hint="executor='local' (the default) or 'dask'")
        self.executor, self.executor_options = executor, dict(executor_options or {})
        self.fn = fn
        self.name = name or fn.__name__
        if not self.name.isidentifier():
            raise FlowError(f"pipeline name {self.name!r} is not an identifier", hint="name it like a function")
        self.cache, self.jobs, self.root, self.on_event = bool(cache), int(jobs), root, on_event
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    @property
    def call(self) -> str:
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    def with_options(
        self,
        *,
        cache: bool | None = None,
        jobs: int | None = None,
        root: Any = None,
        on_event: Callable[[str, str, str], None] | None = None,
        executor: str | None = None,
        **executor_options: Any,
    ) -> Pipeline:
        """A copy with other run options: ``cache``, ``jobs``, ``root`` (the workspace; default: found from the
        current directory), ``on_event(event, step, detail)`` (default: a line per event on stderr; events:
        start, executed, cached, failed, skipped), and where steps run: ``executor`` "local" (threads of this
        process, the default) or "dask" with exactly one of ``scheduler="tcp://HOST:PORT"``,
        ``scheduler_file=PATH`` or ``local_cluster=N``, and optionally ``remote=NAME`` (the remote workers
        share; default: the default remote), ``outputs="fetch"|"lazy"``, ``retries=N``
        (docs/python-pipelines.md, "Running on Dask").

        Raises:
            FlowError: for an unknown executor or option, or dask settings that do not fit together.
        """
        kind = self.executor if executor is None else executor
        options = (
            {**self.executor_options, **executor_options}
            if executor in (None, self.executor)
            else dict(executor_options)
        )
        if kind == "local" and options:
            raise FlowError(
                f"option {sorted(options)[0]!r} needs executor='dask'", hint="with_options(executor='dask', ...)"
            )
        if kind == "dask":
            from .remote import check_settings

            options = check_settings(options)
        return Pipeline(
            self.fn,
            name=self.name,
            cache=self.cache if cache is None else cache,
            jobs=self.jobs if jobs is None else jobs,
            root=self.root if root is None else root,
            on_event=self.on_event if on_event is None else on_event,
            executor=kind,
            executor_options=options,
        )

    def bind(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The pipeline's parameters (defaults applied) for these arguments, checked to be plain JSON.

        Raises:
            PipelineParamError: for an unknown or a missing parameter (exit 2).
            FlowError: for a value that is not plain JSON.
        """
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            names = ", ".join(self.signature.parameters) or "none"
            raise PipelineParamError(f"pipeline {self.name}: {exc}", hint=f"its parameters: {names}") from None
        bound.apply_defaults()
        return {k: check_json(v, f"parameter {k!r} of pipeline {self.name}") for k, v in bound.arguments.items()}

    def build(self, params: dict[str, Any]) -> Graph:
        """Run the body with ``params`` to record the step invocations (nothing is executed)."""
        outer = _current()
        if outer is not None:
            raise FlowError(
                f"pipeline {self.name} is called inside the body of pipeline {outer.pipeline_name}",
                hint="pipelines do not nest: call its steps directly",
            )
        graph = Graph(self.name)
        _BUILD.graph = graph
        try:
            self.fn(**params)
        except ArtError:
            raise
        except Exception as exc:  # the user's body: one clear error, not an art bug
            raise FlowError(
                f"the body of pipeline {self.name} raised {type(exc).__name__}: {exc}",
                hint="a pipeline body only calls steps; run with --debug for the traceback",
            ) from exc
        finally:
            _BUILD.graph = None
        if not graph.invocations:
            raise FlowError(f"pipeline {self.name} calls no step", hint="call @step functions in its body")
        return graph

    def __call__(self, *args: Any, **kwargs: Any):
        from .engine import RunOptions, run

        options = {"cache": self.cache, "jobs": self.jobs}
        for key in self.RESERVED:
            if key in kwargs and key not in self.signature.parameters:
                options[key] = kwargs.pop(key)
        params = self.bind(*args, **kwargs)
        graph = self.build(params)
        opts = RunOptions(
            cache=bool(options["cache"]),
            jobs=int(options["jobs"]),
            on_event=self.on_event,
            executor=self.executor,
            dask=dict(self.executor_options),
        )
        return run(self, graph, params, opts, self.root)

    def __repr__(self) -> str:
        return f"<pipeline {self.name} ({self.call})>"


def step(fn: Callable | None = None, *, cache: bool = True, name: str | None = None) -> Any:
    """Make ``fn`` a pipeline step: ``@step`` or ``@step(cache=False, name="...")``."""
    if fn is None:
        return lambda f: Step(f, cache=cache, name=name)
    return Step(fn, cache=cache, name=name)


def pipeline(fn: Callable | None = None, *, name: str | None = None, cache: bool = True) -> Any:
    """Make ``fn`` a pipeline: ``@pipeline`` or ``@pipeline(name="...", cache=False)``."""
    if fn is None:
        return lambda f: Pipeline(f, name=name, cache=cache)
    return Pipeline(fn, name=name, cache=cache)
