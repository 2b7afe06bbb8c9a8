#!/usr/bin/python3
"""How far can a time-of-day forecast take the seasonal policy on a trace? (docs/simulate.md)

A simplified replay, not the engine: decisions every 15 s on the 1-minute trace (linearly
interpolated), the last 7 days scored, capacity = peak of those days / 20 as in simulate. At each
decision the replicas are the maximum of
  floor:    the q-quantile, over the previous D days, of the demand peak over [t, t + cold start
            + 1 min] at the same time of day, divided by the capacity (rounded up);
  reactive: the demand one minute ago / (capacity x target), rounded up;
  held:     the highest reactive value of the last H minutes (H = 0: none), i.e. a scale-down
            stabilization window of H minutes, which keeps a burst's capacity through the lulls
            of the bursty hours that follow it (information from the same day, not past days);
  and 1.
A replica requested at t is ready at t + cold start; a removed one leaves at once (pending ones
first). Prints SLO-violation minutes (demand above ready capacity) and GPU-hours (replicas
starting or ready). q = 1 provisions for the worst of the past D days at every minute: no policy
that forecasts from the same time of day on past days holds more in advance.

  /usr/bin/python3 hack/bench/phase_quantile_probe.py TRACE.csv COLD_START_SECONDS
"""
import csv
import math
import sys

import numpy as np


def main():
    trace, cold = sys.argv[1], int(sys.argv[2])
    rows = list(csv.reader(open(trace)))[1:]
    dem = np.array([float(v) for _, v in rows])
    n, day = len(dem), 1440
    start = n - 7 * day
    cap = dem[start:].max() / 20
    tt = np.arange(start * 4, (n - 1) * 4) / 4.0  # decision times in minutes
    d15 = np.interp(tt, np.arange(n), dem)
    ahead = cold // 60 + 1
    fmax = np.array([dem[m:m + ahead + 1].max() for m in range(n)])

    def run(q, days, target, hold=0):
        ready, pending, vio, gpu = 0, [], 0.0, 0.0
        recent = []
        for k, t in enumerate(tt):
            m = int(t)
            past = [fmax[m - d * day] for d in range(1, days + 1) if m - d * day >= 0]
            floor = np.quantile(past, q) if past and q > 0 else 0.0
            reactive = math.ceil(dem[max(m - 1, 0)] / (cap * target) - 1e-9)
            recent.append(reactive)
            held = max(recent[-hold * 4:]) if hold else 0
            desired = max(1, math.ceil(floor / cap - 1e-9), reactive, held)
            while pending and pending[0] <= t * 60:
                pending.pop(0)
                ready += 1
            current = ready + len(pending)
            if desired > current:
                pending += [t * 60 + cold] * (desired - current)
            elif desired < current:
                extra = current - desired
                while extra and pending:
                    pending.pop()
                    extra -= 1
                ready -= extra
            if d15[k] > ready * cap + 1e-9:
                vio += 0.25
            gpu += (ready + len(pending)) / 240
        return vio, gpu

    print("| days | q | reactive target | hold min | violation min | GPU-hours |")
    print("|---|---|---|---|---|---|")
    for days in (7, 9):
        for q in (0.8, 0.9, 1.0):
            for target in (0.7, 0.85):
                v, g = run(q, days, target)
                print(f"| {days} | {q} | {target} | 0 | {v:.1f} | {g:.1f} |", flush=True)
    # The same with a burst's capacity held through the following lulls (q 0: no floor at all).
    for q in (0.0, 0.8, 0.9):
        for target in (0.7, 0.85):
            for hold in (15, 30, 60):
                v, g = run(q, 7, target, hold)
                print(f"| 7 | {q} | {target} | {hold} | {v:.1f} | {g:.1f} |", flush=True)


if __name__ == "__main__":
    main()
