# Fits Prophet (R package, default settings, uncertainty.samples = 0) to every fold written by
# predictor_bench --write-folds DIR and writes DIR/<trace>/foldK.prophet.csv (the forecast) and
# foldK.prophet.time (CPU seconds for fit + forecast). Usage: Rscript prophet_folds.R DIR
suppressMessages(library(prophet))
Sys.setenv(TZ = "UTC")
args <- commandArgs(trailingOnly = TRUE)
root <- args[1]
for (meta in sort(list.files(root, pattern = "\\.meta$", recursive = TRUE, full.names = TRUE))) {
  base <- sub("\\.meta$", "", meta)
  info <- scan(meta, quiet = TRUE)
  h <- info[1]
  step <- info[2]
  df <- read.csv(paste0(base, ".train.csv"), stringsAsFactors = FALSE)
  df$ds <- as.POSIXct(df$ds, tz = "UTC")
  t0 <- proc.time()
  m <- suppressMessages(prophet(df, uncertainty.samples = 0))
  future <- make_future_dataframe(m, periods = h, freq = step, include_history = FALSE)
  fc <- predict(m, future)
  used <- proc.time() - t0
  secs <- used[["user.self"]] + used[["sys.self"]]  # CPU time (the bench compares CPU times)
  wall <- used[["elapsed"]]
  write.csv(data.frame(value = fc$yhat), paste0(base, ".prophet.csv"), row.names = FALSE)
  writeLines(format(secs, digits = 6), paste0(base, ".prophet.time"))
  cat(sprintf("prophet %s: %.2f s CPU, %.2f s wall\n", base, secs, wall))
}
