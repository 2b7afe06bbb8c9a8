"""Fits statsmodels ExponentialSmoothing (additive damped trend, additive one-day season) to every
fold written by predictor_bench --write-folds DIR; writes DIR/<trace>/foldK.statsmodels.csv and
foldK.statsmodels.time (CPU seconds for fit + forecast). Usage: /usr/bin/python3 statsmodels_folds.py DIR
"""
import glob
import sys
import time
import warnings

import pandas as pd
from statsmodels.tsa.holtwinters import ExponentialSmoothing

warnings.filterwarnings("ignore")
root = sys.argv[1]
for meta in sorted(glob.glob(f"{root}/**/*.meta", recursive=True)):
    base = meta[: -len(".meta")]
    h, step = (int(x) for x in open(meta).read().split())
    y = pd.read_csv(base + ".train.csv")["y"].to_numpy()
    t0, c0 = time.perf_counter(), time.process_time()
    fit = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add",
                               seasonal_periods=86400 // step).fit()
    fc = fit.forecast(h)
    secs, wall = time.process_time() - c0, time.perf_counter() - t0
    pd.DataFrame({"value": fc}).to_csv(base + ".statsmodels.csv", index=False)
    open(base + ".statsmodels.time", "w").write(f"{secs:.6f}\n")
    print(f"statsmodels {base}: {secs:.2f} s CPU, {wall:.2f} s wall", flush=True)
