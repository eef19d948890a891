"""The `conveyor` command: users' entry point (local stack, running flows, queries, services).

Exit codes: 0 success; 1 the execution failed (or a command's own failure); 2 invalid input (a flow file,
inputs, arguments, settings); 3 a server could not be reached or started. A bug is a traceback and exit 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.cli.flags import GlobalFlags
from conveyor.cli.output import err_console
from conveyor.common.errors import ConveyorError, FlowError, InputError, UsageError
from conveyor.common.kafka.errors import KafkaError
from conveyor.indexer.errors import QueryError

if TYPE_CHECKING:
    from datetime import datetime

    from conveyor.common.settings import KafkaSettings

EXIT_INVALID, EXIT_UNAVAILABLE = 2, 3

# What the user can correct (a flow file, inputs, a flag or setting, a query) exits 2 with its message. Any
# other exception is a bug: it surfaces as a traceback and exit 1, never disguised as bad input.
USER_ERRORS = (FlowError, InputError, UsageError, QueryError)

# A command's handler: its arguments, and the global flags to build its settings with.
Handler = Callable[[argparse.Namespace, GlobalFlags], int]

STATES = [
    "CREATED",
    "RUNNING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "RETRYING",
    "RETRIED",
    "KILLING",
    "KILLED",
    "RESTARTED",
    "QUEUED",
    "PAUSED",
    "CANCELLED",
    "SKIPPED",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conveyor", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (env CONVEYOR_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic-prefix", help="topic prefix (env CONVEYOR_KAFKA_TOPIC_PREFIX, default conveyor.)")
    parser.add_argument("--elasticsearch", help="Elasticsearch URL (env CONVEYOR_ELASTICSEARCH_URL)")
    parser.add_argument("--index-prefix", help="index prefix (env CONVEYOR_ELASTICSEARCH_INDEX_PREFIX)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="start the local stack: Kafka, Elasticsearch, executor, worker, indexer")
    p.add_argument("--detach", "-d", action="store_true", help="run in the background (stop with `conveyor down`)")
    p.add_argument("--workers", type=int, default=1, help="number of worker processes (default 1)")
    p.add_argument(
        "--executors", type=_at_least_one, default=1, metavar="N", help="number of executor processes (default 1)"
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="three Kafka brokers (replication 3, min.insync.replicas 2) and three Elasticsearch nodes (one replica)",
    )
    sub.add_parser("down", help="stop the local stack started with `conveyor up --detach`")
    p = sub.add_parser("status", help="where the servers are and whether they answer")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser("run", help="run a flow file and wait for the end of its execution")
    p.add_argument("flow", help="the flow's YAML file")
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)")
    p.add_argument(
        "--label", "-l", action="append", default=[], metavar="KEY=VALUE", help="a label of the execution (repeatable)"
    )
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the end (default 600)")
    # Advanced (tests, the conformance corpus): inputs as one JSON object; --raw-inputs skips their typing.
    p.add_argument("--inputs-json", metavar="JSON", help=argparse.SUPPRESS)
    p.add_argument("--raw-inputs", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser("files", help="the internal storage: `files get URI [-o FILE]`")
    files = p.add_subparsers(dest="files_action", required=True, metavar="ACTION")
    f = files.add_parser("get", help="copy a file of the internal storage (kestra:///...) to FILE or stdout")
    f.add_argument("uri", metavar="URI")
    f.add_argument("--output", "-o", metavar="FILE", help="where to write it (default: stdout)")
    p = sub.add_parser("purge", help="delete the stored files of executions older than a retention")
    p.add_argument("--older-than", required=True, metavar="DURATION", help="ISO-8601, e.g. P30D")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser("logs", help="an execution's log lines, oldest first (Elasticsearch)")
    p.add_argument("execution", metavar="EXECUTION_ID")
    p.add_argument("--task", "-t", help="only this task id's lines")
    p.add_argument("--level", "-l", choices=["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], help="minimum level")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait up to SECONDS for the execution to end"
    )

    for name, what in (("kill", "kill a running execution"), ("restart", "restart a FAILED or KILLED execution")):
        p = sub.add_parser(name, help=what)
        p.add_argument("execution", metavar="EXECUTION_ID")
        p.add_argument("--wait", action="store_true", help="follow the execution to its end and print it")
        p.add_argument("--output", "-o", choices=["table", "json"], default="table")
        p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)")

    p = sub.add_parser(
        "delete", help="delete an execution (or those the filters match): its task runs, log lines, metrics and files"
    )
    p.add_argument("execution", metavar="EXECUTION_ID", nargs="?", help="one execution (or give filters instead)")
    p.add_argument("--namespace", "-n", help="the executions of this namespace (and those under it)")
    p.add_argument("--flow", "-f", help="the executions of this flow id")
    p.add_argument("--state", "-s", action="append", choices=STATES, help="in this state (repeatable)")
    p.add_argument("--labels", action="append", type=_label_pair, metavar="KEY:VALUE", help="with this label")
    p.add_argument("--parent", metavar="EXECUTION_ID", help="the children (Subflow, ForEachItem) of this execution")
    p.add_argument(
        "--scope",
        action="append",
        choices=["USER", "SYSTEM"],
        help="USER: flows outside the system flow namespace `system`; SYSTEM: in it (repeatable)",
    )
    p.add_argument(
        "--time-range", type=_time_range, metavar="DURATION", help="started within this long back from now (PT1H)"
    )
    p.add_argument("--include-running", action="store_true", help="with filters: delete executions not ended too")
    p.add_argument("--yes", action="store_true", help="with filters: do delete (else only say how many match)")
    p.add_argument("--keep-logs", action="store_true", help="keep its log lines")
    p.add_argument("--keep-metrics", action="store_true", help="keep its metrics")
    p.add_argument("--keep-storage", action="store_true", help="keep its files in the internal storage")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser(
        "unqueue", help="start QUEUED executions now, past their flow's concurrency limit (ids, or filters)"
    )
    p.add_argument("executions", metavar="EXECUTION_ID", nargs="*", help="the executions (or give filters instead)")
    p.add_argument("--namespace", "-n", help="the QUEUED executions of this namespace (and those under it)")
    p.add_argument("--flow", "-f", help="the QUEUED executions of this flow id")
    p.add_argument("--labels", action="append", type=_label_pair, metavar="KEY:VALUE", help="with this label")
    p.add_argument("--parent", metavar="EXECUTION_ID", help="the children (Subflow, ForEachItem) of this execution")
    p.add_argument("--yes", action="store_true", help="with filters: do unqueue (else only say how many match)")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser("pause", help="pause a RUNNING execution (nothing new starts until it is resumed)")
    p.add_argument("execution", metavar="EXECUTION_ID")
    p = sub.add_parser("resume", help="resume a PAUSED execution, with the onResume inputs of its Pause")
    p.add_argument("execution", metavar="EXECUTION_ID")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an onResume input (a FILE input: NAME=@PATH uploads the file)",
    )
    p = sub.add_parser("replay", help="a new execution of an ended one, from a task run on (default: the start)")
    p.add_argument("execution", metavar="EXECUTION_ID")
    p.add_argument("--from", dest="task_run", metavar="TASKRUN_ID", help="the task run to run again from")
    p = sub.add_parser(
        "change-state",
        help="set a task run (or an ended execution) to SUCCESS, WARNING or FAILED: change-state ID [TASKRUN_ID] STATE",
    )
    p.add_argument("execution", metavar="EXECUTION_ID")
    p.add_argument("target", nargs="+", metavar="[TASKRUN_ID] STATE")
    for p in (sub.choices["pause"], sub.choices["resume"], sub.choices["replay"], sub.choices["change-state"]):
        p.add_argument("--wait", action="store_true", help="follow the execution to its next end and print it")
        p.add_argument("--output", "-o", choices=["table", "json"], default="table")
        p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)")

    _flows_parser(sub.add_parser("flows", help="deploy, list, read and delete deployed flows (Kafka)"))

    p = sub.add_parser("validate", help="check flow files without running them")
    p.add_argument("flows", nargs="+")

    for name, what in (("taskruns", "search task runs"), ("executions", "search executions")):
        p = sub.add_parser(name, help=f"{what} (Elasticsearch), newest first")
        p.add_argument("--namespace", "-n", help="namespace (prefix match)")
        p.add_argument("--flow", "-f", help="flow id")
        p.add_argument("--state", "-s", action="append", choices=STATES, help="state (repeatable)")
        p.add_argument("--size", type=int, default=25)
        p.add_argument("--output", "-o", choices=["table", "json"], default="table")
        p.add_argument("--trigger", help="only executions (or their task runs) started by the trigger of this id")
        p.add_argument(
            "--labels",
            action="append",
            type=_label_pair,
            metavar="KEY:VALUE",
            help="only executions (or their task runs) with this label (repeatable: all of them)",
        )
        p.add_argument(
            "--parent",
            metavar="EXECUTION_ID",
            help="only the child executions (or their task runs) a Subflow or ForEachItem of this execution started",
        )
        if name == "taskruns":
            p.add_argument("--execution", "-e", help="execution id")
            p.add_argument("--task", "-t", help="task id")
            p.add_argument("--follow", action="store_true", help="refresh every 2 s")
            p.add_argument("--q", "-q", help="free text over ids, namespace, flow, task and value")
            p.add_argument(
                "--after-date", dest="start", type=_day_start, metavar="ISO", help="started at or after this date-time"
            )
            p.add_argument(
                "--before-date", dest="end", type=_day_end, metavar="ISO", help="started at or before this date-time"
            )
            p.add_argument(
                "--sort", default="state.startDate:desc", help="FIELD:asc|desc (default state.startDate:desc)"
            )
            p.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the previous page printed")

    p = sub.add_parser("audit", help="the audit trail of the API (Elasticsearch), newest first")
    p.add_argument("--user", "-u", help="only this user's records")
    p.add_argument("--since", metavar="ISO|DURATION", help="from this date-time, or this long back (P1D, PT6H)")
    p.add_argument("--namespace", "-n", help="only this namespace")
    p.add_argument("--result", choices=["SUCCESS", "DENIED", "FAILED"], help="only this result")
    p.add_argument("--size", type=int, default=100, help="most records shown (default 100, at most 1000)")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser("auth", help="authentication helpers: `auth hash-password` prints an argon2 hash")
    p.add_argument("action", choices=["hash-password"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = sub.add_parser("login", help="sign in to the server (CONVEYOR_API_URL): store a token for the CLI")
    p.add_argument("--user", "-u", help="the user (asked when neither --user nor --token is given)")
    p.add_argument("--token", help="an API token to store instead of signing in with a password")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("logout", help="revoke and forget the token `conveyor login` stored")
    p = sub.add_parser("tokens", help="API tokens: create, list, revoke")
    tokens = p.add_subparsers(dest="tokens_action", required=True, metavar="ACTION")
    t = tokens.add_parser("create", help="create a token (printed once)")
    t.add_argument("name", help="what the token is for")
    t.add_argument("--role", action="append", default=[], metavar="ROLE@NAMESPACE", help="scope (repeatable)")
    t.add_argument("--days", type=int, help="expiry in days (default: the server's CONVEYOR_AUTH_TOKEN_DAYS)")
    t.add_argument("--owner", help="admin: create it for another owner")
    t.add_argument("--output", "-o", choices=["table", "json"], default="table")
    t = tokens.add_parser("list", help="your tokens (an admin: everyone's)")
    t.add_argument("--owner", help="admin: only this owner's")
    t.add_argument("--output", "-o", choices=["table", "json"], default="table")
    t = tokens.add_parser("revoke", help="revoke a token")
    t.add_argument("token_id", metavar="TOKEN_ID")

    p = sub.add_parser("kv", help="the KV store of a namespace: get, set, list, delete (Kafka topic `kv`)")
    p.add_argument("action", choices=["get", "set", "list", "delete"])
    p.add_argument("namespace", metavar="NS")
    p.add_argument("key", metavar="KEY", nargs="?", help="the key (all but list)")
    p.add_argument("value", metavar="VALUE", nargs="?", help="set: the value (JSON if it parses, else text)")
    p.add_argument(
        "--type",
        dest="kv_type",
        type=str.upper,
        choices=["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"],
    )
    p.add_argument("--ttl", help="set: ISO-8601 duration after which the key expires")
    p.add_argument("--no-overwrite", action="store_true", help="set: fail when the key exists")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser(
        "nsfiles", help="a namespace's files: upload DIR|FILE, list, get, revisions, delete (internal storage)"
    )
    p.add_argument("action", choices=["upload", "list", "get", "revisions", "delete"])
    p.add_argument(
        "path",
        metavar="PATH",
        nargs="?",
        help="upload: a folder or file; list: a folder; get, revisions, delete: a path",
    )
    p.add_argument("--revision", type=int, metavar="N", help="get: that revision of the file (default: the latest)")
    p.add_argument("--namespace", "-n", required=True, metavar="NS")
    p.add_argument("--to", metavar="PREFIX", help="upload: the folder (or, for one file, the path) to store under")
    p.add_argument("--output", "-o", help="get: the file to write (default: stdout); list: table or json")

    p = sub.add_parser("topics", help="create or describe Conveyor's Kafka topics")
    p.add_argument("action", choices=["create", "describe"])
    p.add_argument("--partitions", type=int, help="partitions of new topics (env CONVEYOR_KAFKA_PARTITIONS, default 6)")
    p.add_argument(
        "--replication-factor",
        type=int,
        help="replicas of new topics (env CONVEYOR_KAFKA_REPLICATION_FACTOR, default 1)",
    )
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")

    p = sub.add_parser("kafka", help="Kafka administration: the least-privilege ACLs of each service")
    kafka_sub = p.add_subparsers(dest="kafka_command", required=True, metavar="KAFKA_COMMAND")
    p = kafka_sub.add_parser("acls", help="print each service's ACLs and kafka-acls.sh commands; --apply creates them")
    p.add_argument("--apply", action="store_true", help="create the ACLs on the cluster (needs an admin's credentials)")
    p.add_argument(
        "--principal-prefix", default="User:", help="service S's principal is PREFIX+S (default User:, so User:worker)"
    )
    p.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="only this principal's ACLs (repeatable): executor, worker, indexer, server, cli, topics",
    )
    p.add_argument("--output", "-o", choices=["table", "json", "markdown"], default="table")

    _triggers_parser(sub)

    for service in ("executor", "worker", "indexer", "scheduler"):
        sub.add_parser(service, help=f"run the {service} service in the foreground")
    p = sub.add_parser("server", help="the HTTP API (OpenAPI at /docs) and the Task Runs web page")
    p.add_argument("--host", help="address to listen on (env CONVEYOR_SERVER_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (env CONVEYOR_SERVER_PORT, default 8080)")

    p = sub.add_parser("demo", help="start the local stack, run every flow in examples/, print their task runs")
    p.add_argument("--examples", default="examples", help="folder of flow files (default examples/)")
    p.add_argument("--keep", action="store_true", help="leave the local stack running afterwards")
    return parser


def _flows_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    p = sub.add_parser("deploy", help="validate then deploy flow files and folders of them (all or nothing)")
    p.add_argument("paths", nargs="+", metavar="FILE|DIR", help="flow files, or folders of *.yaml / *.yml files")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p = sub.add_parser("list", help="the deployed flows, by namespace then id")
    p.add_argument("--namespace", "-n", help="namespace (prefix match)")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p = sub.add_parser("get", help="print a deployed flow's YAML source")
    p.add_argument("namespace")
    p.add_argument("id")
    p.add_argument("--revision", "-r", type=int, help="an older revision (default: the latest)")
    p = sub.add_parser("delete", help="delete a deployed flow (its triggers stop)")
    p.add_argument("namespace")
    p.add_argument("id")


def _triggers_parser(sub: Any) -> None:
    p = sub.add_parser("triggers", help="list the triggers of the deployed flows; enable, disable, backfill one")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every trigger with its state and next date")
    listing.add_argument("--namespace", "-n", help="namespace (and the namespaces under it)")
    listing.add_argument("--output", "-o", choices=["table", "json"], default="table")
    for name, what in (("enable", "enable a trigger"), ("disable", "disable a trigger"), ("backfill", "backfill")):
        q = actions.add_parser(name, help=what)
        q.add_argument("namespace", metavar="NS")
        q.add_argument("flow", metavar="FLOW")
        q.add_argument("trigger", metavar="TRIGGER")
        if name == "backfill":
            q.add_argument("--start", required=True, metavar="ISO", help="first date-time (with its offset)")
            q.add_argument("--end", metavar="ISO", help="last date-time (default: now)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args, GlobalFlags.of(args))
    except USER_ERRORS as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_INVALID
    except KafkaError as exc:
        sys.stderr.write(f"error: Kafka: {exc}\n(is the stack up? `conveyor up --detach` starts one)\n")
        return EXIT_UNAVAILABLE
    except ConveyorError as exc:  # the server refused (1) or could not be reached (3)
        from conveyor.cli.apiclient import ApiUnavailable

        sys.stderr.write(f"error: {exc}\n")
        return EXIT_UNAVAILABLE if isinstance(exc, ApiUnavailable) else 1
    except Exception as exc:
        reason = _elasticsearch_unavailable(exc)
        if reason is None:
            raise
        from conveyor.common.elastic import describe

        where = describe(GlobalFlags.of(args).elasticsearch())
        sys.stderr.write(f"error: Elasticsearch at {where}: {reason}\n(is the stack up? `conveyor status` says)\n")
        return EXIT_UNAVAILABLE


def _elasticsearch_unavailable(exc: Exception) -> str | None:
    """Why Elasticsearch could not be asked (unreachable, or credentials refused: exit 3, one line), or None
    for any other exception. Only looked up once the client was loaded (`--help` stays quick)."""
    if "elasticsearch" not in sys.modules:
        return None
    from elasticsearch import AuthenticationException, AuthorizationException, TransportError

    if isinstance(exc, TransportError):
        return str(exc.message)
    if isinstance(exc, AuthenticationException | AuthorizationException):
        return f"{exc.meta.status} {exc.message}"
    return None


# Each handler imports what its command needs when it runs, so that `conveyor --help` stays quick.
def _kafka(flags: GlobalFlags) -> KafkaSettings:
    """Kafka's settings once the broker answered: wrong credentials or an unreachable broker are one clear
    error now, not a client retrying forever."""
    from conveyor.common.kafka.verify import connect

    settings = flags.kafka()
    connect(settings, timeout=30)
    return settings


def _stack(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import stack

    if args.command == "up":
        return stack.up(args.detach, args.workers, flags, cluster=args.cluster, executors=args.executors)
    if args.command == "down":
        return stack.down()
    from conveyor.cli.status import status

    return status(args.output, flags)


def _run(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.run import run

    _check_inputs(args)
    return run(
        args.flow,
        args.input,
        args.output,
        args.timeout,
        _kafka(flags),
        inputs_json=args.inputs_json,
        raw_inputs=args.raw_inputs,
        labels=args.label,
    )


def _at_least_one(text: str) -> int:
    """`--executors N`: a whole number, 1 or more."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {number}")
    return number


def _label_pair(text: str) -> tuple[str, str]:
    """`--labels KEY:VALUE` (as the API's `labels=key:value`)."""
    key, sep, value = text.partition(":")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY:VALUE, got {text!r}")
    return key.strip(), value.strip()


def _check_inputs(args: argparse.Namespace) -> None:
    """`--input NAME=VALUE` and `--inputs-json` as `run` parses them: their `ValueError` is the user's."""
    from conveyor.cli.run import parse_input_args, parse_inputs_json, parse_label_args

    try:
        parse_inputs_json(args.inputs_json)
        parse_input_args(args.input)
        parse_label_args(getattr(args, "label", []))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _files(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import files

    if args.command == "purge":
        return files.purge(args.older_than, args.output)
    return files.get(args.uri, args.output)


def _logs(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.logs import logs

    es = flags.elasticsearch()
    return logs(es, args.execution, task=args.task, level=args.level, output=args.output, wait=args.wait)


def _control(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import control

    action = control.kill if args.command == "kill" else control.restart
    return action(_kafka(flags), args.execution, wait=args.wait, timeout=args.timeout, output=args.output)


def _time_range(value: str) -> datetime:
    """`--time-range PT1H`: the start of that window back from now (argparse says which flag is wrong)."""
    from conveyor.common.clock import utcnow
    from conveyor.indexer.filters import time_range_start

    try:
        return time_range_start(value, utcnow())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date_time(value: str, *, end: bool) -> datetime:
    """`--after-date` / `--before-date`: an ISO-8601 date-time (UTC without an offset) or a date (its start, or
    for `--before-date` its end), as the API's `startDate` / `endDate`; anything else is argparse's exit 2."""
    from datetime import UTC, date, datetime, time

    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max if end else time.min, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 date-time such as 2026-11-01T00:00:00Z, or a date, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day_start(value: str) -> datetime:
    return _date_time(value, end=False)


def _day_end(value: str) -> datetime:
    return _date_time(value, end=True)


def _delete(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.delete import delete, delete_by_query
    from conveyor.common.deletion import Keep
    from conveyor.indexer.filters import ExecutionFilters

    keep = Keep(logs=args.keep_logs, metrics=args.keep_metrics, storage=args.keep_storage)
    labels = dict(args.labels) if args.labels else None
    filtered = any((args.namespace, args.flow, args.state, args.parent, labels, args.scope, args.time_range))
    if (args.execution is None) == (not filtered):
        print("conveyor delete: give an execution id, or filters (--namespace, --flow, --state, …)", file=sys.stderr)
        return 2
    if args.execution is not None:
        return delete(_kafka(flags), flags.elasticsearch(), args.execution, keep=keep, output=args.output)
    filters = ExecutionFilters(
        namespace=args.namespace,
        flow_id=args.flow,
        state=args.state,
        trigger_execution_id=args.parent,
        labels=labels,
        scope=tuple(args.scope) if args.scope else None,
        start=args.time_range,
    )
    return delete_by_query(
        _kafka(flags),
        flags.elasticsearch(),
        filters,
        keep=keep,
        include_running=args.include_running,
        yes=args.yes,
        output=args.output,
    )


def _unqueue(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.unqueue import unqueue_by_query, unqueue_ids
    from conveyor.indexer.filters import ExecutionFilters

    labels = dict(args.labels) if args.labels else None
    filtered = any((args.namespace, args.flow, args.parent, labels))
    if bool(args.executions) == filtered:
        print("conveyor unqueue: give execution ids, or filters (--namespace, --flow, …)", file=sys.stderr)
        return 2
    if args.executions:
        return unqueue_ids(_kafka(flags), args.executions, output=args.output)
    filters = ExecutionFilters(
        namespace=args.namespace, flow_id=args.flow, trigger_execution_id=args.parent, labels=labels
    )
    return unqueue_by_query(_kafka(flags), flags.elasticsearch(), filters, yes=args.yes, output=args.output)


def _steer(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import control
    from conveyor.cli.run import parse_input_args
    from conveyor.common.control import Action, Params

    params = Params()
    if args.command == "resume":
        from conveyor.cli.files import resume_files

        try:
            params = Params(**resume_files(parse_input_args(args.input)))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.command == "replay":
        params = Params(task_run_id=args.task_run)
    elif args.command == "change-state":
        if len(args.target) > 2:
            raise UsageError("change-state expects EXECUTION_ID [TASKRUN_ID] STATE")
        params = Params(task_run_id=args.target[0] if len(args.target) == 2 else None, state=args.target[-1])
    kafka = _kafka(flags)
    return control.steer(
        kafka, args.execution, Action(args.command), params, wait=args.wait, timeout=args.timeout, output=args.output
    )


def _validate(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from pathlib import Path

    from conveyor.common.flow_warnings import flow_warnings
    from conveyor.common.loader import decode_flow, load_flow_file

    invalid = 0
    for path in args.flows:  # every file is checked; any invalid one makes the exit code 2
        try:
            flow = load_flow_file(path)
        except FlowError as exc:
            sys.stderr.write(f"error: {exc}\n")
            invalid += 1
            continue
        for problem in flow_warnings(decode_flow(Path(path).read_bytes(), path), flow):
            sys.stderr.write(f"warning: {problem.format(path)}\n")
        count = len(list(flow.all_tasks()))
        err_console.print(f"{path}: valid flow {flow.namespace}.{flow.id} ({count} task{'' if count == 1 else 's'})")
    return EXIT_INVALID if invalid else 0


def _flows(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import flows

    action = args.flows_command
    if action == "deploy":
        batch, problems = flows.load_batch(args.paths)  # refused before Kafka is needed
        if problems:
            return flows.refuse(problems)
        return flows.deploy(_kafka(flags), batch, args.output)
    if action == "list":
        return flows.list_flows(_kafka(flags), args.namespace, args.output)
    if action == "get":
        return flows.get_flow(_kafka(flags), args.namespace, args.id, args.revision)
    return flows.delete_flow(_kafka(flags), args.namespace, args.id)


def _query(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import query

    es = flags.elasticsearch()
    shared = {
        "namespace": args.namespace,
        "flow": args.flow,
        "states": args.state,
        "size": args.size,
        "labels": dict(args.labels) if args.labels else None,
    }
    if args.command == "executions":
        return query.executions(es, output=args.output, trigger=args.trigger, parent=args.parent, **shared)
    return query.taskruns(
        es,
        output=args.output,
        **shared,
        execution=args.execution,
        task=args.task,
        trigger=args.trigger,
        parent=args.parent,
        follow=args.follow,
        q=args.q,
        start=args.start,
        end=args.end,
        sort=args.sort,
        after=args.after,
    )


def _audit(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.audit import audit

    return audit(
        flags.elasticsearch(),
        user=args.user,
        since=args.since,
        namespace=args.namespace,
        result=args.result,
        size=args.size,
        output=args.output,
    )


def _auth(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import auth

    if args.command == "auth":
        return auth.hash_password(args.password_stdin)
    if args.command == "login":
        return auth.login(args.user, args.token, args.password_stdin)
    if args.command == "logout":
        return auth.logout()
    if args.tokens_action == "create":
        return auth.create_token(args.name, args.role, args.days, args.owner, args.output)
    if args.tokens_action == "list":
        return auth.list_tokens(args.owner, args.output)
    return auth.revoke_token(args.token_id)


def _nsfiles(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.nsfiles import nsfiles_command

    return nsfiles_command(args.action, args.namespace, args.path, args.to, args.output, args.revision)


def _kv(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.kv import kv
    from conveyor.common.errors import UsageError

    if args.action != "list" and not args.key:
        raise UsageError(f"kv {args.action}: KEY is required")
    options = {"kv_type": args.kv_type, "ttl": args.ttl, "no_overwrite": args.no_overwrite, "output": args.output}
    return kv(_kafka(flags), args.action, args.namespace, args.key, args.value, **options)


def _topics(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import topics

    overrides = {"partitions": args.partitions, "replication_factor": args.replication_factor}
    kafka = flags.kafka(**{k: v for k, v in overrides.items() if v is not None})
    return topics.topics(args.action, kafka, args.output)


def _kafka_admin(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli.kafka_acls import acls

    kafka = _kafka(flags) if args.apply else flags.kafka()
    return acls(
        kafka, apply=args.apply, principal_prefix=args.principal_prefix, services=args.service, output=args.output
    )


def _triggers(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import triggers
    from conveyor.common.triggers.state import Action

    if args.action == "list":
        return triggers.list_triggers(_kafka(flags), args.namespace, args.output)
    target = (args.namespace, args.flow, args.trigger)
    dates = {"start": args.start, "end": args.end} if args.action == "backfill" else {}
    return triggers.control(_kafka(flags), Action(args.action), target, **dates)


def _services(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import services

    if args.command == "server":
        return services.server(flags, args.host, args.port)
    return int(getattr(services, args.command)(flags))


def _demo(args: argparse.Namespace, flags: GlobalFlags) -> int:
    from conveyor.cli import demo

    return demo.demo(args.examples, args.keep, flags)


# Every command of `_parser` and its handler.
HANDLERS: dict[str, Handler] = {
    "up": _stack,
    "down": _stack,
    "status": _stack,
    "run": _run,
    "logs": _logs,
    "files": _files,
    "purge": _files,
    "kill": _control,
    "restart": _control,
    "delete": _delete,
    "unqueue": _unqueue,
    "pause": _steer,
    "resume": _steer,
    "replay": _steer,
    "change-state": _steer,
    "validate": _validate,
    "flows": _flows,
    "taskruns": _query,
    "executions": _query,
    "audit": _audit,
    "topics": _topics,
    "kv": _kv,
    "nsfiles": _nsfiles,
    "auth": _auth,
    "login": _auth,
    "logout": _auth,
    "tokens": _auth,
    "kafka": _kafka_admin,
    "triggers": _triggers,
    "executor": _services,
    "scheduler": _services,
    "worker": _services,
    "indexer": _services,
    "server": _services,
    "demo": _demo,
}


if __name__ == "__main__":
    sys.exit(main())
