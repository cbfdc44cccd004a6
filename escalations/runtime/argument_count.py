"""A worker interceptor: a workflow or update sent the wrong number of arguments is refused.

Every workflow and update here takes exactly one model. The data converter turns a bad
argument into a non-retryable ``InvalidInput`` error, but it never sees a missing or an extra
one: the SDK then calls the run method with too few or too many arguments, and the
``TypeError`` fails the ticket's first workflow task on every retry, so a caller's mistake
leaves a ticket that never opens and never fails. This interceptor checks the count first and
fails the workflow (or rejects the update) with a message that says what was expected.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from escalations.runtime.data_converter import INVALID_INPUT


def _check(what: str, fn: Callable[..., Any], args: Sequence[Any], skip: int = 0) -> None:
    signature = inspect.signature(fn)
    try:
        signature.bind(*([None] * skip), *args)
    except TypeError:
        expected = [
            f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
            for p in list(signature.parameters.values())[skip:]
        ]
        raise ApplicationError(
            f"invalid input: {what} takes {len(expected)} argument(s) "
            f"({', '.join(expected)}); got {len(args)}",
            type=INVALID_INPUT,
            non_retryable=True,
        ) from None


class _CountArguments(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        # run_fn is the class's function: its first parameter is the instance (self).
        _check(workflow.info().workflow_type, input.run_fn, input.args, skip=1)
        return await super().execute_workflow(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        _check_update(input)
        super().handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        # Again here: an update without a validator reaches its handler unchecked.
        _check_update(input)
        return await super().handle_update_handler(input)


def _check_update(input: HandleUpdateInput) -> None:
    # The SDK binds async handlers as (*args, **kwargs), which accepts any count; the method
    # on the class still has the real signature. Updates here are named after their methods;
    # one that is not found keeps the SDK's own behaviour.
    method = getattr(type(workflow.instance()), input.update, None)
    if callable(method) and workflow.get_update_handler(input.update) is not None:
        _check(f"update {input.update}", method, input.args, skip=1)


class ArgumentCountInterceptor(Interceptor):
    """Pass to ``Worker(interceptors=[...])``: wrong argument counts fail as ``InvalidInput``."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        """The inbound interceptor that checks argument counts."""
        return _CountArguments
