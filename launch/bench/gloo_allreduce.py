"""PyTorch gloo all-reduce among P processes on 127.0.0.1, the comparison for `ringformer bench allreduce`.

    OMP_NUM_THREADS=1 /usr/bin/python3 launch/bench/gloo_allreduce.py   (Debian python3-torch) --workers 2 --floats 10000000
"""
import argparse, os, statistics, time
import torch, torch.distributed as dist, torch.multiprocessing as mp


def rank_main(rank, world, floats, iterations, warmup, port, results):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    x = torch.ones(floats)
    times = []
    for i in range(warmup + iterations):
        x.fill_(rank + 1)
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(x)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    assert float(x[0]) == world * (world + 1) / 2
    if rank == 0:
        results.put(times)
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--floats", type=int, default=10_000_000)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=rank_main, args=(r, a.workers, a.floats, a.iterations, a.warmup, port, results))
             for r in range(a.workers)]
    for q in procs:
        q.start()
    times = sorted(results.get())
    for q in procs:
        q.join()
    print(f"gloo all-reduce of {a.floats:,} floats among {a.workers} processes: median {statistics.median(times):.1f} ms "
          f"(p10 {times[len(times) // 10]:.1f}, p90 {times[len(times) * 9 // 10]:.1f})")
