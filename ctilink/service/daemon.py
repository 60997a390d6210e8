"""The ctilink daemon: wires the engine to FreeSWITCH (or the simulated switch), the store, metrics,
callbacks and HTTP.

Rules (DESIGN.md, "Service"):
- One single writer of engine state: :class:`~ctilink.service.loop.EngineLoop` in live mode,
  a :class:`Runner` in demo mode (the demo, :mod:`ctilink.service.demo`, attaches the simulated
  switch's :class:`~ctilink.service.simdriver.SimDriver`; this module never imports the simulator). Everything else sends it inputs.
- The engine never waits on the database: state is loaded into it at start; what it announces is
  written out through the batching :class:`~ctilink.store.StoreWriter`.
- Stopping (SIGTERM/SIGINT) takes no new work, leaves live calls up in FreeSWITCH, flushes the
  store and returns within a bounded time. Reloading (SIGHUP) swaps queues, skills and agents
  without touching any agent's state; an invalid new configuration is refused and the old one
  keeps running.
- Outbound campaigns (``[[campaigns]]``, docs/dialer.md) run beside the engine through one
  :class:`~ctilink.dialer.runtime.CampaignEngine`, which is what the loop (or the simulated switch)
  drives. Campaigns and their contacts are loaded from the store at start (contacts that were
  ``dialing`` come back ``interrupted``, never redialed at once). Live, the dialer's writes are
  committed before the commands of the same Effects reach FreeSWITCH
  (:class:`~ctilink.service.persist.PersistFirst`): the loop dispatches before it notifies, so
  persisting them as notifications would let an Originate overtake the write that says "this
  contact is being dialed", and a crash in between would dial the contact twice.
- A ``PreviewOffered`` becomes a preview screen pop for its agent (SSE, webhooks, callbacks).
- A campaign's run state (every ``CampaignStateChanged``: start, pause, resume, stop) is written to
  the store; at start the last recorded state wins over ``autostart``, so an operator's pause or
  stop survives a restart. A campaign with no recorded state starts as ``autostart`` says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import gevent
import gevent.event
import structlog
from prometheus_client import CollectorRegistry

from ctilink.config import Config, load_config
from ctilink.config_checks import check_for_run
from ctilink.core import Engine, EngineSnapshot
from ctilink.core import requests as rq
from ctilink.dialer.dialer import (
    CampaignState,
    CampaignStats,
    Dialer,
    DialerError,
    PauseCampaign,
    PreviewOffered,
    StartCampaign,
)
from ctilink.dialer.runtime import CampaignEngine
from ctilink.esl.connection import EslConnection
from ctilink.lists import Entry, ListName
from ctilink.service.api import Activity, ApiContext
from ctilink.service.build import build_engine, new_uuid
from ctilink.service.callbacks import Callbacks, default_callbacks
from ctilink.service.crm import CrmLookup
from ctilink.service.http import build_app, serve
from ctilink.service.loop import EngineLoop
from ctilink.service.metrics import DialerMetrics, KpiMetrics
from ctilink.service.persist import Persister, PersistFirst, load_run_states, write_dialer_notes
from ctilink.service.screenpop import ScreenPop, ScreenPopper
from ctilink.service.sessions import load_sessions
from ctilink.service.sse import AgentRouter, EventHub
from ctilink.service.switchlink import NodeLink, Switchboard
from ctilink.service.webhooks import WebhookService
from ctilink.store import Store, StoreWriter
from ctilink.store.factory import open_store

log = structlog.get_logger("ctilink.daemon")

#: Contacts loaded per campaign at start (the dialer keeps its campaigns' contacts in memory).
MAX_LOADED_CONTACTS = 1_000_000


class Runner(Protocol):
    """The single writer of engine state when it is not the live :class:`EngineLoop`: the demo's
    :class:`~ctilink.service.simdriver.SimDriver`, which :func:`ctilink.service.demo.simulated_daemon`
    attaches with :meth:`Daemon.attach_runner`."""

    @property
    def snapshot(self) -> EngineSnapshot | None: ...

    def submit(self, item: object) -> gevent.event.AsyncResult: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


class Daemon:
    """The running service. Build it with :meth:`live` (or the demo's
    :func:`~ctilink.service.demo.simulated_daemon`), then :meth:`start`."""

    _switchboard: Switchboard  # live daemons only: set by live()

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        registry: CollectorRegistry | None = None,
        callbacks: Callbacks | None = None,
        store: Store | None = None,
        dialer: Dialer | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.dialer = (
            dialer if dialer is not None else Dialer(dnc=getattr(engine, "check_dnc", None), id_factory=new_uuid)
        )
        for campaign in config.campaigns:
            if campaign.name not in self.dialer.campaigns():
                self.dialer.add_campaign(campaign)
        self.runtime: CampaignEngine | None = None
        self.persist_first: PersistFirst | None = None
        self.registry = registry if registry is not None else CollectorRegistry()
        self.callbacks = callbacks if callbacks is not None else default_callbacks
        self.metrics = KpiMetrics.from_config(
            self.registry,
            engine.config,
            short_abandon_s=config.metrics.short_abandon_s,
            window_s=config.metrics.window_s,
            per_agent=config.metrics.per_agent,
        )
        self.store = store
        self.writer = StoreWriter(store, on_commit=self.metrics.observe_store_write) if store is not None else None
        self.persister = Persister(self.writer, endpoints_of=self._endpoints_of) if self.writer is not None else None
        self.dialer_metrics = DialerMetrics(self.registry)
        self.links: list[NodeLink] = []
        self.loop: EngineLoop | None = None
        self.driver: Runner | None = None
        self.mode: Literal["live", "simulated"] = "live"
        self.clock: Callable[[], float] = time.time  # the simulated switch's virtual clock in a demo
        self.servers: list[Any] = []
        self.api_context: ApiContext | None = None
        self.stopped = gevent.event.Event()
        self.http_address: tuple[str, int] | None = None
        self.config_path: str | None = None  # set by `ctilink run`: what SIGHUP and the API re-read
        self.metrics_address: tuple[str, int] | None = None
        self.sessions: list[rq.Request] = []  # agent sessions the store kept across a restart
        self.run_states: dict[str, CampaignState] = {}  # recorded run state per campaign (the store's)
        # Integration (docs/integration.md): screen pops, the agent event stream, webhooks, API.
        self.activity = Activity()
        self.hub = EventHub(
            window_s=config.api.sse_window_s,
            max_events=config.api.sse_max_events,
            keepalive_s=config.api.sse_keepalive_s,
        )
        self._router = AgentRouter()
        self.crm = CrmLookup(config.crm)
        self.screenpop = ScreenPopper(
            self._emit_pop, config=config.screen_pop, crm=self.crm, default_region=engine.config.default_region
        )
        self.webhooks = WebhookService(list(config.webhooks.endpoints), store=store, writer=self.writer)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def live(cls, config: Config, *, registry: CollectorRegistry | None = None) -> Daemon:
        """A daemon for real FreeSWITCH nodes, with the SQLite store of the configuration."""
        if not config.nodes:
            raise ValueError("nodes: at least one FreeSWITCH node is needed to run live (or use `ctilink demo`)")
        engine, dialer = build_engine(config)  # before the store: a refused engine leaves no file behind
        dialer.hold_until_resynced()  # no dial before the event socket is up and resynced
        store = open_store(config.store)
        daemon = cls(config, engine, registry=registry, store=store, dialer=dialer)
        now = time.time()
        daemon.load_state(now)
        daemon.runtime = CampaignEngine(daemon.engine, daemon.dialer, now)
        assert daemon.writer is not None and daemon.persister is not None
        daemon.persister.dialer_notes = False  # PersistFirst writes them, before their commands go out
        daemon.persist_first = PersistFirst(
            daemon.runtime,
            daemon.writer,
            send=lambda cmds: daemon._switchboard.dispatch(cmds),
            refuse=lambda job: daemon.loop.post(job) if daemon.loop else None,
        )
        daemon.loop = EngineLoop(
            daemon.persist_first,  # type: ignore[arg-type]
            dispatch=daemon.persist_first.dispatch,
            notify=daemon.notify,
            observe_decision=daemon.metrics.observe_decision,
            on_snapshot=daemon.refresh,
        )
        for node in config.nodes:
            conn = EslConnection(
                node.name,
                node.host,
                node.port,
                node.password.get_secret_value(),
                event_format=node.event_format,
                heartbeat_timeout_s=node.heartbeat_timeout_s,
                buffer_size=node.buffer_size,
                registry=daemon.registry,
            )
            daemon.links.append(NodeLink(conn, daemon._post_event))
        daemon._switchboard = Switchboard(daemon.links)
        return daemon

    def attach_runner(self, runner: Runner, *, clock: Callable[[], float]) -> None:
        """Run the engine through ``runner`` instead of the live loop, on ``clock``'s time (simulated)."""
        self.driver = runner
        self.clock = clock
        self.mode = "simulated"

    def load_state(self, now: float) -> None:
        """Lists and sticky memory from the store into the engine, before any event is handled."""
        if self.store is None:
            return
        load_lists = getattr(self.engine, "load_lists", None)
        if load_lists is not None:
            load_lists(self.store.load_list_entries(now=now))
        load_sticky = getattr(self.engine, "load_sticky", None)
        if load_sticky is not None:
            load_sticky(self.store.sticky_load(now))
        self.run_states = load_run_states(self.store)
        self.sessions = load_sessions(self.store, {p.id: p for p in self.config.agents})
        for name in self.dialer.campaigns():
            out = self.dialer.load_contacts(name, self.store.get_contacts(name, limit=MAX_LOADED_CONTACTS), now)
            write_dialer_notes(self.store, out.notifications)  # interrupted attempts: closed before any dial
            for note in out.notifications:
                self.dialer_metrics.observe(note, now)

    def campaign_stats(self, now: float | None = None) -> list[CampaignStats]:
        """Live statistics of every campaign (read on the caller's greenlet; gevent does not preempt)."""
        at = self._now() if now is None else now
        return [self.dialer.stats(name, at) for name in self.dialer.campaigns()]

    def _endpoints_of(self, agent_id: str) -> list[str] | None:
        profile_of = getattr(self.engine, "agent_profile", None)
        profile = profile_of(agent_id) if profile_of is not None else None
        return list(profile.endpoints) if profile is not None else None

    def _now(self) -> float:
        return self.clock()

    def refresh(self, snapshot: EngineSnapshot, now: float) -> None:
        self.metrics.refresh(snapshot, now)
        self.dialer_metrics.refresh(self.campaign_stats(now))

    # -- fan-out ----------------------------------------------------------------------------------

    def notify(self, note: object, now: float) -> None:
        self.metrics.observe(note, now)
        self.dialer_metrics.observe(note, now)
        if self.persister is not None:
            self.persister.observe(note, now)
        self.callbacks.dispatch(note)
        self.activity.observe(note, now)
        self._publish(note, now)
        self.screenpop.observe(note, now)  # after the note itself: a pop follows its CallOffered
        if isinstance(note, PreviewOffered):
            self._preview_pop(note, now)

    def _preview_pop(self, note: PreviewOffered, now: float) -> None:
        fields = {str(k): str(v) for k, v in note.fields.items() if k not in ("attempt_id", "callback_agent")}
        self.screenpop.preview(
            agent_id=note.agent_id,
            number=note.number,
            now=now,
            campaign=note.campaign,
            name=fields.get("name"),
            fields=fields,
        )

    def _publish(self, note: object, now: float) -> None:
        self.hub.publish(self._router.agents_for(note), note)
        self.webhooks.observe(note, now)

    def _emit_pop(self, pop: ScreenPop) -> None:
        self.callbacks.dispatch(pop)
        self._publish(pop, pop.at)

    def _post_event(self, event: object) -> None:
        """A switch event on its way to the engine: screen pops remember the parked channel's data."""
        self.screenpop.observe_event(event)
        assert self.loop is not None
        self.loop.post(event)

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def snapshot(self) -> EngineSnapshot | None:
        runner = self.loop or self.driver
        return runner.snapshot if runner is not None else None

    def health(self) -> dict[str, Any]:
        nodes = {link.node: link.conn.connected for link in self.links}
        ok = self.snapshot is not None and (not nodes or any(nodes.values()))
        return {"ok": ok, "mode": self.mode, "nodes": nodes}

    def submit(self, request: object) -> gevent.event.AsyncResult:
        """Send a request (login, ready, transfer...) to the engine's single writer."""
        runner = self.loop or self.driver
        assert runner is not None
        return runner.submit(request)

    def submit_campaign(self, request: object, timeout: float = 10.0) -> object:
        """A dialer request (start, pause, preview accept...): its Effects, or the DialerError it raised."""
        try:
            return self.submit(request).get(timeout=timeout)
        except DialerError as exc:
            return exc

    def start(self) -> None:
        if self.writer is not None:
            self.writer.start()
        if self.loop is not None:
            self.loop.start()
            for request in self.sessions:  # before any switch event: the resync then adopts their calls
                self.submit(request)
            for link in self.links:
                link.start()
        if self.driver is not None:
            self.driver.start()
        self.webhooks.start()
        for name in self.dialer.campaigns():
            recorded = self.run_states.get(name)
            if recorded is CampaignState.PAUSED:
                self.submit(PauseCampaign(name))  # paused, not stopped: resume works and stats say so
            elif recorded is CampaignState.RUNNING or (recorded is None and self.dialer.config(name).autostart):
                self.submit(StartCampaign(name))
        self.api_context = context = ApiContext(
            snapshot=lambda: self.snapshot,
            submit=self.submit,
            health=self.health,
            config=self.config,
            activity=self.activity,
            hub=self.hub,
            webhooks=self.webhooks,
            query_list=getattr(self.engine, "query_list", None),
            campaigns=self.campaign_stats,
            submit_campaign=self.submit_campaign,
            durable=self.writer.flush if self.writer is not None else None,
            reload=self.reload_from_file if self.config_path is not None else None,
        )
        app = build_app(
            health=self.health, registry=self.registry if self._metrics_on_http() else None, context=context
        )
        if self.config.http.enabled:
            server = serve(self.config.http.listen, app)
            self.servers.append(server)
            self.http_address = server.address[:2]
        if self.config.metrics.enabled and not self._metrics_on_http():
            server = serve(
                self.config.metrics.listen, build_app(lambda: self.snapshot, health=self.health, registry=self.registry)
            )
            self.servers.append(server)
            self.metrics_address = server.address[:2]
        elif self.config.metrics.enabled:
            self.metrics_address = self.http_address
        log.info(
            "daemon_started",
            http=self.http_address,
            metrics=self.metrics_address,
            nodes=[link.node for link in self.links],
            mode=self.health()["mode"],
        )

    def _metrics_on_http(self) -> bool:
        return self.config.http.enabled and self.config.metrics.listen == self.config.http.listen

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, leave live calls up, flush the store. Bounded by ``timeout``."""
        log.info("daemon_stopping")
        for server in self.servers:
            server.stop(timeout=1)
        if self.driver is not None:
            self.driver.stop(timeout)
        if self.loop is not None:
            self.loop.stop(timeout)
        for link in self.links:
            link.stop(timeout=min(5.0, timeout))
        self.webhooks.stop(timeout=min(5.0, timeout))
        if self.writer is not None:
            self.writer.stop(timeout)
        if self.store is not None:
            self.store.close()
        self.stopped.set()
        log.info("daemon_stopped")

    def reload_from_file(self) -> dict[str, Any]:
        """Re-read :attr:`config_path` and apply it; raises ConfigError (nothing changed) if invalid."""
        assert self.config_path is not None
        new = load_config(self.config_path)
        check_for_run(new, str(self.config_path))  # what `ctilink run` and SIGHUP refuse, refused here too
        self.reload(new)
        return {"ok": True, "queues": len(new.queues), "agents": len(new.agents)}

    def reload(self, new: Config) -> None:
        """Swap queues and agents; agents keep their states. Raises on an invalid configuration."""
        engine_config = new.engine_config()  # validates the whole before anything changes
        results = [self.submit(rq.ReplaceQueues(tuple(engine_config.queues)))]
        results += [self.submit(rq.UpsertAgent(agent)) for agent in engine_config.agents]
        refused = [e for e in (r.get(timeout=10).error for r in results) if e is not None]
        if refused:
            log.error("config_reload_partial", errors=[str(e)[:200] for e in refused])
        self.metrics.set_queues(engine_config.queues)
        self.config = new
        if self.api_context is not None:  # the API checks logins and scopes against the live profiles
            self.api_context.config = new
        changed = self._sync_lists()
        log.info(
            "config_reloaded", queues=len(engine_config.queues), agents=len(engine_config.agents), list_changes=changed
        )

    def _sync_lists(self) -> int:
        """Bring the engine's number lists in line with the store (``ctilink lists import`` writes
        the store while the daemon runs); returns how many entries changed."""
        if self.store is None:
            return 0
        now = time.time()
        store_config = self.config.store

        def read() -> list[Entry]:
            # A connection of its own, in a thread: WAL (or Redis) lets it read while the writer
            # commits, and a million entries never stall the hub.
            reader = open_store(store_config)
            try:
                return reader.load_list_entries(now=now)
            finally:
                reader.close()

        stored = {_list_key(e): e for e in gevent.get_hub().threadpool.apply(read)}
        live = {_list_key(e): e for name in ListName for e in self.engine.query_list(name.value)}
        results = [self.submit(rq.AddListEntry(entry=e)) for k, e in stored.items() if live.get(k) != e]
        results += [
            self.submit(rq.RemoveListEntry(str(k[0]), k[1], scope=k[2], kind=str(k[3])))
            for k in live
            if k not in stored
        ]
        for result in results:
            effects = result.get(timeout=30)
            if effects.error is not None:
                log.warning("list_entry_refused", error=str(effects.error)[:200])
        return len(results)


def _list_key(entry: Entry) -> tuple[object, str, str, object]:
    return (entry.list_name, entry.number, entry.scope, entry.kind)


def run_until_signal(daemon: Daemon, *, reload: Callable[[], Config] | None = None) -> None:
    """Start ``daemon`` and block until SIGTERM/SIGINT; SIGHUP calls ``reload`` and applies it."""
    import signal

    def _stop() -> None:
        gevent.spawn(daemon.stop)

    def _hup() -> None:
        if reload is None:
            return

        def apply() -> None:
            try:
                daemon.reload(reload())
            except Exception as exc:
                log.error("config_reload_refused", error=str(exc)[:2000])

        gevent.spawn(apply)

    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    gevent.signal_handler(signal.SIGHUP, _hup)
    daemon.start()
    daemon.stopped.wait()
