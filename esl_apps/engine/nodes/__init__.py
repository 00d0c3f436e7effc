"""One coroutine per node type, looked up by the node's ``type``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from esl_apps.engine.context import FlowContext, NodeResult
from esl_apps.engine.nodes.collect import run_collect
from esl_apps.engine.nodes.consent import run_consent
from esl_apps.engine.nodes.logic import run_branch_caller, run_branch_time, run_branch_var, run_goto, run_set
from esl_apps.engine.nodes.media import run_play, run_say
from esl_apps.engine.nodes.menu import run_menu
from esl_apps.engine.nodes.routing import (
    run_callback,
    run_hangup,
    run_queue,
    run_ring_group,
    run_transfer,
    run_voicemail,
)

__all__ = ["HANDLERS", "NodeHandler"]

NodeHandler = Callable[[Any, FlowContext], Awaitable[NodeResult]]

HANDLERS: dict[str, NodeHandler] = {
    "play": run_play,
    "say": run_say,
    "menu": run_menu,
    "collect": run_collect,
    "consent": run_consent,
    "set": run_set,
    "branch_time": run_branch_time,
    "branch_caller": run_branch_caller,
    "branch_var": run_branch_var,
    "ring_group": run_ring_group,
    "queue": run_queue,
    "transfer": run_transfer,
    "voicemail": run_voicemail,
    "callback": run_callback,
    "hangup": run_hangup,
    "goto": run_goto,
}
