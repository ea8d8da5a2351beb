"""Watchlists in the database (SQLite and Postgres): writes take revisions in order, a processor
picks changes up incrementally, notices are recorded once (rate limit at its boundary, no
receiver); `finsent watchlist add|list|rm|notices` and `finsent worker stream` on the CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.receivers import Receiver
from alerts.watchlists.model import RateLimit, WatchlistSpec
from alerts.watchlists.processor import WatchlistProcessor
from alerts.watchlists.store import (
    WatchlistError,
    add_watchlist,
    add_watchlists,
    changes_since,
    list_watchlists,
    recent_notices,
    remove_watchlist,
)
from pipeline.db.activation import activate
from pipeline.db.models import WatchlistNotice, WebhookDelivery
from tests.fixtures.stream import store_articles
from tests.fixtures.watchlists import T0, enriched, mention

pytestmark = pytest.mark.integration

RECEIVERS = {"desk": Receiver(name="desk", url="https://hooks.example.com/desk", secret=SecretStr("s"))}


def _spec(name: str, **fields: object) -> WatchlistSpec:
    return WatchlistSpec(name=name, owner="pm", **{"tickers": ("AAPL",), **fields})  # type: ignore[arg-type]


def test_revisions_and_incremental_changes(db_engine: Engine) -> None:
    a = add_watchlist(db_engine, _spec("a"), now=T0)
    b = add_watchlist(db_engine, _spec("b", tickers=("MSFT",)), now=T0)
    assert (a.revision, b.revision) == (1, 2)
    with pytest.raises(WatchlistError, match="WCH001"):
        add_watchlist(db_engine, _spec("a"), now=T0)
    first = changes_since(db_engine, 0)
    assert first.revision == 2 and [w.name for w in first.upserted] == ["a", "b"] and first.removed == ()
    assert remove_watchlist(db_engine, "a", now=T0) is not None
    assert remove_watchlist(db_engine, "a", now=T0) is None
    c = add_watchlist(db_engine, _spec("a", tickers=("XOM",)), now=T0)  # the name is free again
    later = changes_since(db_engine, first.revision)
    assert later.removed == (a.id,) and [w.id for w in later.upserted] == [c.id]
    assert changes_since(db_engine, later.revision).upserted == ()
    assert [w.name for w in list_watchlists(db_engine)] == ["b", "a"]


def test_bulk_add_is_one_revision_and_all_or_nothing(db_engine: Engine) -> None:
    ids = add_watchlists(db_engine, [_spec(f"bulk-{i}") for i in range(3)], now=T0)
    assert len(ids) == 3 and changes_since(db_engine, 0).revision == 1
    with pytest.raises(WatchlistError, match="WCH001"):
        add_watchlists(db_engine, [_spec("new"), _spec("bulk-1")], now=T0)
    with pytest.raises(WatchlistError, match="WCH002"):
        add_watchlists(db_engine, [_spec("twice"), _spec("twice")], now=T0)
    assert [w.id for w in list_watchlists(db_engine)] == ids


def test_processor_refreshes_the_index_and_records_each_notice_once(db_engine: Engine) -> None:
    clock = [0.0]
    processor = WatchlistProcessor(db_engine, RECEIVERS, refresh_s=5.0, monotonic=lambda: clock[0], clock=lambda: T0)
    limited = add_watchlist(db_engine, _spec("limited", rate_limit=RateLimit(max_notices=2, per="1h")), now=T0)
    items = [enriched(f"item-{i:012d}", entities=(mention("Apple", 0, ticker="AAPL"),)) for i in range(4)]
    store_articles(db_engine, [(i, "Apple falls", "") for i in items])

    outcomes = [processor.on_enriched(i) for i in items[:3]]
    assert [len(o.queued) for o in outcomes] == [1, 1, 0] and outcomes[2].suppressed == {"rate_limit": 1}
    assert processor.on_enriched(items[0]).duplicates == 1

    nobody = add_watchlist(db_engine, _spec("nobody", receivers=("gone",)), now=T0)
    unrefreshed = processor.on_enriched(items[3])  # within refresh_s: `nobody` is not in the index yet
    assert unrefreshed.matched == 1 and unrefreshed.suppressed == {"rate_limit": 1}
    clock[0] += 5.0
    remove_watchlist(db_engine, limited.id, now=T0)
    outcome = processor.on_enriched(items[3])
    assert outcome.matched == 1 and outcome.suppressed == {"no_receiver": 1} and len(processor.index) == 1

    with db_engine.connect() as conn:
        notices = conn.execute(select(WatchlistNotice.watchlist_id, WatchlistNotice.status, WatchlistNotice.reason)).all()
        deliveries = conn.scalar(select(func.count()).select_from(WebhookDelivery))
    assert sorted(notices) == sorted([
        (limited.id, "queued", None), (limited.id, "queued", None), (limited.id, "suppressed", "rate_limit"),
        (limited.id, "suppressed", "rate_limit"), (nobody.id, "suppressed", "no_receiver"),
    ])
    assert deliveries == 2
    assert [n["reason"] for n in recent_notices(db_engine, watchlist_id=nobody.id)] == ["no_receiver"]


def test_only_the_active_model_version_notifies(db_engine: Engine) -> None:
    add_watchlist(db_engine, _spec("a"), now=T0)
    processor = WatchlistProcessor(db_engine, RECEIVERS, refresh_s=0.0, clock=lambda: T0)
    old, new = (enriched("item-000000000001", model_version=v, entities=(mention("Apple", 0, ticker="AAPL"),))
                for v in ("v1", "v2"))
    store_articles(db_engine, [(old, "Apple falls", "")])
    activate(db_engine, "v2", now=T0)
    assert processor.on_enriched(old).skipped == "model_version"
    assert len(processor.on_enriched(new).queued) == 1


def test_cli_watchlist_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.db import migrate
    from workers.cli import build_parser, main
    from workers.commands.stream import run_stream_worker

    url = f"sqlite:///{tmp_path / 'finsent.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("FINSENT_DATABASE_URL", url)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)

    assert main(["watchlist", "add", "desk", "--ticker", "aapl", "--sentiment", "negative", "--score-max", "-0.5",
                 "--prob", "negative:0.7", "--quiet-hours", "22:00-07:00", "--timezone", "Europe/London",
                 "--rate-limit", "10/1h", "--owner", "pm"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["tickers"] == ["AAPL"] and added["rate_limit"] == {"max_notices": 10, "per": "1h"}
    assert added["condition"]["max_score"] == -0.5 and added["condition"]["min_probability"] == 0.7
    assert main(["watchlist", "add", "desk", "--ticker", "X"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["watchlist", "add", "empty"]) == 2
    assert "at least one ticker" in capsys.readouterr().err
    assert main(["watchlist", "list"]) == 0
    assert [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()] == ["desk"]
    assert main(["watchlist", "rm", str(added["id"])]) == 0
    assert main(["watchlist", "rm", "desk"]) == 1
    assert build_parser().parse_args(["worker", "stream", "--group", "g"]).handler is run_stream_worker
