# cmprsk reference values for cartlens' follow-up cumulative incidences on the SYNTHETIC demo
# registry: infection, severe infection, time to next treatment and second malignancy, each with
# death as the competing event (status 0 censored, 1 event, 2 death without the event); and a
# Cox model of PFS after CART1 with the loss of B-cell aplasia as a time-dependent covariate.
# Run from this folder:  Rscript make_followup.R   (cmprsk 2.2-11, survival, jsonlite)
suppressMessages({library(cmprsk); library(jsonlite)})
d <- read.csv("demo_followup.csv")
times <- c(30, 100, 365, 730)
one <- function(prefix) {
  t <- d[[paste0(prefix, "_days")]]; s <- d[[paste0(prefix, "_event")]]
  r0 <- cuminc(t, s)
  tp0 <- timepoints(r0, times)
  rg <- cuminc(t, s, d$course_number)
  tpg <- timepoints(rg, times)
  list(
    r_call = sprintf("cuminc(%s_days, %s_event)", prefix, prefix),
    keys = rownames(tp0$est), est = unname(tp0$est), var = unname(tp0$var),
    by_course = list(
      r_call = sprintf("cuminc(%s_days, %s_event, course_number)", prefix, prefix),
      keys = rownames(tpg$est), est = unname(tpg$est), var = unname(tpg$var),
      gray_stat = unname(rg$Tests[, "stat"]), gray_p = unname(rg$Tests[, "pv"]),
      gray_causes = rownames(rg$Tests)))
}
out <- list(times = times)
for (p in c("infection", "severe_infection", "ttnt", "spm")) out[[p]] <- one(p)
# loss of B-cell aplasia as a time-dependent exposure for PFS after CART1
suppressMessages(library(survival))
iv <- read.csv("demo_bca_intervals.csv")
fit <- coxph(Surv(tstart, tstop, event) ~ bca_lost + hsct, data = iv, ties = "efron")
out$bca_cox <- list(r_call = "coxph(Surv(tstart, tstop, event) ~ bca_lost + hsct, ties = 'efron')",
  coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))), loglik = unname(fit$loglik),
  n = fit$n, nevent = fit$nevent)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "demo_followup.json")
