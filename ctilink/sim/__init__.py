"""The simulated switch: a discrete-event model of FreeSWITCH that drives the real engine.

See :mod:`ctilink.sim.switch` for the driver, :mod:`ctilink.sim.fabric` for the channel model,
:mod:`ctilink.sim.models` for the behaviour models and ``docs/simulation.md`` for a guide.
"""

from ctilink.sim.fabric import CommandError, SimChannel, SwitchFabric
from ctilink.sim.models import (
    AgentBehaviour,
    CallerBehaviour,
    Distribution,
    Exponential,
    Fixed,
    LogNormal,
    OutboundAnswer,
    Route,
    SwitchTiming,
    Uniform,
)
from ctilink.sim.scheduler import Scheduler, Timer
from ctilink.sim.stats import QueueFigures, SimStats
from ctilink.sim.switch import CallerStream, EngineLike, SimulatedSwitch, SimulationError

__all__ = [
    "AgentBehaviour",
    "CallerBehaviour",
    "CallerStream",
    "CommandError",
    "Distribution",
    "EngineLike",
    "Exponential",
    "Fixed",
    "LogNormal",
    "OutboundAnswer",
    "QueueFigures",
    "Route",
    "Scheduler",
    "SimChannel",
    "SimStats",
    "SimulatedSwitch",
    "SimulationError",
    "SwitchFabric",
    "SwitchTiming",
    "Timer",
    "Uniform",
]
