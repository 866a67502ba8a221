# Second set of R reference results: the statistics added after the core (issue 12).
#
#   cd tests/data/reference && Rscript make_reference2.R [OUTDIR]
#
# Writes fisher_rxc.json (and further blocks, each in its own file, listed in README.md).
# As in make_reference.R every number sits next to the R call that made it ("r_call"),
# evaluated from that very text. Needs: survival, jsonlite (and the packages named per block).

suppressPackageStartupMessages({
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[[1]] else "."
dir.create(file.path(outdir, "data"), showWarnings = FALSE, recursive = TRUE)

ev <- function(txt) eval(parse(text = txt), envir = globalenv())
arr <- function(x) I(unname(x))
rows <- function(m) {
  m <- as.matrix(m)
  lapply(seq_len(nrow(m)), function(i) I(unname(m[i, ])))
}
pkg_version <- function(p) {
  if (requireNamespace(p, quietly = TRUE)) as.character(packageVersion(p)) else NA
}
r_versions <- function(pkgs) {
  c(list(R = R.version.string, platform = R.version$platform),
    setNames(lapply(pkgs, pkg_version), pkgs))
}
write_json_file <- function(x, name) {
  txt <- toJSON(x, auto_unbox = TRUE, digits = NA, na = "null", null = "null",
                pretty = TRUE)
  writeLines(txt, file.path(outdir, name))
}

# ------------------------------------------------------------------------------------------
# Fisher's exact test on r x c tables (fisher.test, FEXACT) and its Monte Carlo version
# ------------------------------------------------------------------------------------------

rxc_tables <- list(
  job_satisfaction_4x4 = "matrix(c(1, 2, 1, 0, 3, 3, 6, 1, 10, 10, 14, 9, 6, 7, 12, 11), 4, 4, byrow = TRUE)",
  ordered_3x3 = "matrix(c(3, 1, 0, 1, 4, 2, 0, 2, 5), 3, 3, byrow = TRUE)",
  all_tied_2x3 = "matrix(1, 2, 3)",
  ties_3x3 = "matrix(c(2, 1, 1, 1, 2, 1, 1, 1, 2), 3, 3, byrow = TRUE)",
  zero_row_3x3 = "matrix(c(2, 0, 3, 0, 0, 0, 1, 4, 0), 3, 3, byrow = TRUE)",
  grade_by_product_3x6 = "matrix(c(3, 5, 2, 6, 1, 4, 2, 7, 3, 1, 5, 2, 6, 1, 4, 3, 2, 8), 3, 6, byrow = TRUE)",
  two_by_eight = "matrix(c(10, 3, 8, 5, 12, 2, 7, 9, 4, 9, 6, 11, 3, 8, 5, 2), 2, 8, byrow = TRUE)",
  five_by_two = "matrix(c(8, 2, 5, 5, 3, 7, 1, 9, 6, 4), 5, 2, byrow = TRUE)",
  sparse_4x3 = "matrix(c(0, 0, 4, 0, 3, 0, 2, 0, 0, 1, 1, 1), 4, 3, byrow = TRUE)"
)
fisher_rxc <- lapply(names(rxc_tables), function(k) {
  tab <- ev(rxc_tables[[k]])
  call <- sprintf("fisher.test(%s)", rxc_tables[[k]])
  f <- ev(call)
  set.seed(20261204)
  sim_call <- sprintf("fisher.test(%s, simulate.p.value = TRUE, B = 20000)", rxc_tables[[k]])
  s <- ev(sim_call)
  list(table = rows(tab), r_table = rxc_tables[[k]],
       exact = list(r_call = call, p = f$p.value, method = f$method),
       simulated = list(r_call = paste0("set.seed(20261204); ", sim_call),
                        p = s$p.value, B = 20000, method = s$method))
})
names(fisher_rxc) <- names(rxc_tables)
write_json_file(list(
  r_versions = r_versions(c("stats", "jsonlite")),
  note = paste("exact = fisher.test's FEXACT p-value (tables with log P <= log P(obs) +",
               "3.45254e-7); simulated = one Monte Carlo run of R's own random stream,",
               "which cartlens cannot reproduce: compare within Monte Carlo error"),
  tables = fisher_rxc
), "fisher_rxc.json")

# ------------------------------------------------------------------------------------------
# Hodges-Lehmann estimate and interval of wilcox.test(x, y, conf.int = TRUE)
# ------------------------------------------------------------------------------------------

set.seed(12)
hl_samples <- list(
  small_exact = list(x = "c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30)",
                     y = "c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.31)"),
  tiny_unachievable = list(x = "c(1.1, 2.3, 3.9)", y = "c(0.4, 1.7)"),
  ties = list(x = "c(3, 5, 5, 6, 7, 7, 7, 9, 10, 12)", y = "c(1, 2, 2, 3, 5, 5, 6, 8)"),
  large_normal = list(x = sprintf("c(%s)", paste(signif(rexp(60, 1 / 30), 4), collapse = ", ")),
                      y = sprintf("c(%s)", paste(signif(rexp(55, 1 / 20), 4), collapse = ", ")))
)
hl_cases <- list()
for (k in names(hl_samples)) {
  for (alt in c("two.sided", "less", "greater")) {
    for (corr in c(TRUE, FALSE)) {
      if (!corr && k %in% c("small_exact", "tiny_unachievable")) next
      call <- sprintf("wilcox.test(%s, %s, alternative = \"%s\", correct = %s, conf.int = TRUE)",
                      hl_samples[[k]]$x, hl_samples[[k]]$y, alt, corr)
      w <- suppressWarnings(ev(call))
      hl_cases[[sprintf("%s_%s_%s", k, alt, if (corr) "correct" else "nocorrect")]] <- list(
        x = arr(ev(hl_samples[[k]]$x)), y = arr(ev(hl_samples[[k]]$y)), alternative = alt,
        correct = corr, r_call = call, statistic = unname(w$statistic), p = w$p.value,
        estimate = unname(w$estimate), conf_int = arr(w$conf.int),
        conf_level = attr(w$conf.int, "conf.level"), method = w$method)
    }
  }
}
write_json_file(list(
  r_versions = r_versions(c("stats", "jsonlite")),
  note = "null in conf_int = -Inf / Inf (one-sided intervals)",
  cases = hl_cases
), "wilcox_hl.json")

cat("reference files written to", normalizePath(outdir), "\n")
