"""Names of the agent-pool keys, shared by the Python side and (by convention) the Lua scripts.

Every pool key carries the hash tag ``{agents}``: agents are shared by several groups, so a pick
for one group must read and reserve agents that other groups also use. Putting the whole pool in
one Redis Cluster slot keeps each pick a single atomic script; the cost is that the pool cannot be
spread over several cluster shards (see docs/ringgroups.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoolKeys:
    prefix: str = "esl"

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{agents}}"

    @property
    def timed(self) -> str:
        return f"{self.base}:timed"

    @property
    def registry(self) -> str:
        return f"{self.base}:agents"

    def agent(self, agent_id: str) -> str:
        return f"{self.base}:a:{agent_id}"

    def agent_groups(self, agent_id: str) -> str:
        return f"{self.base}:ag:{agent_id}"

    def group(self, group_id: str, part: str) -> str:
        """``part`` is one of meta, pos, w, free, idle, fewest."""
        return f"{self.base}:g:{group_id}:{part}"
