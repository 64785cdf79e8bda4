"""A fleet of N specialists against N merged models served apart: resident memory, latency and requests/s.

The fleet: one llama.cpp server with the base GGUF (q8_0) and N LoRA adapters, each request turning on its own. Apart:
N llama.cpp servers, each on one specialist's merged q8_0 GGUF (each run's served file). Both answer the same requests
through the same code (`fleet_answer`: the run's template, its label bias or stop tokens), so the only difference is
the server. Load: `--clients` threads on loopback, round-robin over the specialists, `--requests` in all.

Memory is each server process's proportional set size (PSS, /proc/PID/smaps_rollup: a page shared by k processes
counts 1/k to each), summed: what the servers add to the machine. Apart, every merged GGUF is a distinct file, so
nothing is shared but the code; to reach N beyond the runs there are, a run's merged GGUF is copied to a new file and
its adapter loaded again under a new name (the same weights; memory and speed do not depend on their values).

    python bench/fleet_bench.py --runs-root RUNS --names context_protocol ticket_routing belief_revision --n 3
    python bench/fleet_bench.py --runs-root RUNS --names context_protocol ticket_routing belief_revision --n 3 --clients 1
    python bench/fleet_bench.py --runs-root RUNS --names context_protocol ticket_routing belief_revision --n 12

RUNS holds each name's promoted run with its GGUF export (tests/test_fleet.py makes such a folder). Results are
merged into bench/fleet_results.json under `n<N>_clients<C>`, with the machine and the command.
"""
import argparse, json, shutil, statistics, sys, threading, time
from dataclasses import replace
from pathlib import Path

from simplex_train.base.core import read_json, read_jsonl, write_json
from simplex_train.base.device import describe_machine
from simplex_train.inputs.clients import LlamaServer, OpenAIClient
from simplex_train.shipping.deploy import p95, served_gguf
from simplex_train.workflow.fleet import Backend, base_gguf, fleet_answer, fleet_member

OUT = Path(__file__).with_name("fleet_results.json")


def _pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for {pid}")


def _members(runs_root: Path, names: list[str], n: int, scratch: Path) -> list:
    "n members: the named runs, then copies of them under new names (each with its own merged GGUF file)."
    real = [fleet_member(runs_root, name) for name in names]
    out = []
    for i in range(n):
        m = real[i % len(real)]
        out.append(m if i < len(real) else replace(m, name=f"{m.name}_{i}"))
    merged = {}
    for i, m in enumerate(out):
        src = served_gguf(m.run)
        merged[m.name] = src if i < len(real) else shutil.copy(src, scratch / f"{m.name}.gguf")
    return out, merged


def _load(members: list, clients: dict, requests: int, threads: int) -> dict:
    "Round-robin requests over the members from `threads` threads; latency of each, requests/s overall."
    asks = {m.name: [r for r in read_jsonl(m.run.split("test"))] for m in members}
    jobs = [(members[i % len(members)], i) for i in range(requests)]
    seconds, lock = [], threading.Lock()

    def work(part):
        for m, i in part:
            rows = asks[m.name]
            t = time.perf_counter()
            fleet_answer(m, clients[m.name], rows[i % len(rows)])
            with lock:
                seconds.append(time.perf_counter() - t)

    workers = [threading.Thread(target=work, args=(jobs[k::threads],)) for k in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    return {"requests": len(seconds), "p50_s": round(statistics.median(seconds), 4), "p95_s": round(p95(seconds), 4),
            "requests_per_s": round(len(seconds) / wall, 3), "wall_s": round(wall, 2)}


def _fleet(members, runs_root: Path, args) -> dict:
    base = base_gguf(members[0].base, runs_root / "_fleet")
    t = time.perf_counter()
    backend = Backend(base, members).start()
    started = time.perf_counter() - t
    try:
        clients = {m.name: backend.client(m.name) for m in members}
        load = _load(members, clients, args.requests, args.clients)
        memory = _pss_mib(backend.server.proc.pid)
    finally:
        backend.close()
    return {"servers": 1, "pss_mib": round(memory, 1), "start_s": round(started, 2), **load}


def _apart(members, merged: dict, args) -> dict:
    servers = [LlamaServer(merged[m.name], 2048) for m in members]
    t = time.perf_counter()
    for s in servers:
        s.__enter__()
    started = time.perf_counter() - t
    try:
        clients = {m.name: OpenAIClient(s.url) for m, s in zip(members, servers)}
        load = _load(members, clients, args.requests, args.clients)
        memory = sum(_pss_mib(s.proc.pid) for s in servers)
    finally:
        for s in servers:
            s.__exit__()
    return {"servers": len(servers), "pss_mib": round(memory, 1), "start_s": round(started, 2), **load}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs-root", required=True, type=Path)
    p.add_argument("--names", nargs="+", required=True)
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--requests", type=int, default=48)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--scratch", type=Path, default=Path("/tmp/fleet_bench"))
    args = p.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    members, merged = _members(args.runs_root, args.names, args.n, args.scratch)
    apart = _apart(members, merged, args)        # apart first: the fleet's base conversion is cached already
    fleet = _fleet(members, args.runs_root, args)
    result = {"n": args.n, "fleet": fleet, "apart": apart,
              "memory_apart_over_fleet": round(apart["pss_mib"] / fleet["pss_mib"], 2),
              "p50_fleet_over_apart": round(fleet["p50_s"] / apart["p50_s"], 2),
              "throughput_fleet_over_apart": round(fleet["requests_per_s"] / apart["requests_per_s"], 2),
              "machine": describe_machine(), "command": "python " + " ".join(sys.argv)}
    print(json.dumps(result, indent=1))
    results = read_json(OUT) if OUT.exists() else {}
    results[f"n{args.n}_clients{args.clients}"] = result
    write_json(OUT, results)


if __name__ == "__main__":
    main()
