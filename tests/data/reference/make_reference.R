# Regenerate the R reference results of cartlens' test suite.
#
#   cd tests/data/reference && Rscript make_reference.R [OUTDIR]
#
# OUTDIR defaults to "." (this folder). The script writes data/*.csv,
# derived/jasa1_per_patient.csv and lung.json, veteran.json, heart.json, mgus2.json,
# tests2x2.json. Every number comes from an R call whose text is stored next to it
# ("r_call"); the call is evaluated from that very text, so the two cannot drift apart.
# Needs: survival, cmprsk, MatchIt, jsonlite. See README.md for versions and meanings.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(MatchIt)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[[1]] else "."
dir.create(file.path(outdir, "data"), showWarnings = FALSE, recursive = TRUE)
dir.create(file.path(outdir, "derived"), showWarnings = FALSE, recursive = TRUE)

# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------

# evaluate a call given as text in the global environment
ev <- function(txt) eval(parse(text = txt), envir = globalenv())

# a vector that stays a JSON array even with one element
arr <- function(x) I(unname(x))

# a matrix as a list of rows (JSON array of arrays)
rows <- function(m) {
  m <- as.matrix(m)
  lapply(seq_len(nrow(m)), function(i) I(unname(m[i, ])))
}

pkg_version <- function(p) {
  if (requireNamespace(p, quietly = TRUE)) as.character(packageVersion(p)) else NA
}

r_versions <- function() {
  list(
    R = R.version.string,
    platform = R.version$platform,
    survival = pkg_version("survival"),
    cmprsk = pkg_version("cmprsk"),
    KMsurv = pkg_version("KMsurv"),
    MatchIt = pkg_version("MatchIt"),
    jsonlite = pkg_version("jsonlite"),
    stats = pkg_version("stats")
  )
}

json_conventions <- list(
  null = paste(
    "null means R NA, NaN, Inf or -Inf (for example an unreached upper confidence limit",
    "of a median, or the infinite limit of a one-sided interval)"
  ),
  precision = "15 significant digits (jsonlite::toJSON(digits = NA))",
  r_call = "every r_call / r_calls text is the R expression that produced the numbers beside it"
)

write_json_file <- function(x, name) {
  txt <- toJSON(x, auto_unbox = TRUE, digits = NA, na = "null", null = "null",
                pretty = TRUE)
  writeLines(txt, file.path(outdir, name))
}

write_csv_file <- function(df, name) {
  write.csv(df, file.path(outdir, name), row.names = FALSE, na = "")
}

# stratum labels of a survfit / summary.survfit (single curve -> "all")
strata_labels <- function(fit) if (is.null(fit$strata)) "all" else names(fit$strata)

table_rows <- function(tab) {
  # summary(fit)$table: a vector for one curve, a matrix for several
  if (is.null(dim(tab))) {
    m <- matrix(tab, nrow = 1, dimnames = list("all", names(tab)))
    m
  } else {
    tab
  }
}

conf_types <- c(log = "log", log_log = "log-log", plain = "plain")

km_fits <- function(surv_formula, data_name) {
  calls <- sprintf('survfit(%s, data = %s, conf.type = "%s")', surv_formula, data_name,
                   conf_types)
  names(calls) <- names(conf_types)
  list(calls = as.list(calls), fits = lapply(calls, ev))
}

median_block <- function(fits, label) {
  out <- list()
  for (ct in names(fits)) {
    tab <- table_rows(summary(fits[[ct]])$table)
    out[[ct]] <- list(median = unname(tab[label, "median"]),
                      lower = unname(tab[label, "0.95LCL"]),
                      upper = unname(tab[label, "0.95UCL"]))
  }
  out
}

# survfit by group, three conf types, medians, RMST and landmark summaries
km_block <- function(surv_formula, data_name, landmarks, tau) {
  k <- km_fits(surv_formula, data_name)
  fits <- k$fits
  labels <- strata_labels(fits$log)
  tab <- table_rows(summary(fits$log)$table)
  rm_tab <- table_rows(summary(fits$log, rmean = tau)$table)
  sm <- lapply(fits, function(f) summary(f, times = landmarks, extend = TRUE))
  groups <- list()
  for (lab in labels) {
    sel <- if (lab == "all") rep(TRUE, length(sm$log$time)) else
      as.character(sm$log$strata) == lab
    g <- list(
      records = unname(tab[lab, "records"]),
      n_start = unname(tab[lab, "n.start"]),
      n_max = unname(tab[lab, "n.max"]),
      events = unname(tab[lab, "events"]),
      median = median_block(fits, lab),
      rmst = list(tau = tau, rmean = unname(rm_tab[lab, "rmean"]),
                  se = unname(rm_tab[lab, "se(rmean)"])),
      landmarks = list(
        time = arr(sm$log$time[sel]),
        n_risk = arr(sm$log$n.risk[sel]),
        n_event = arr(sm$log$n.event[sel]),
        n_censor = arr(sm$log$n.censor[sel]),
        surv = arr(sm$log$surv[sel]),
        std_err = arr(sm$log$std.err[sel]),
        cumhaz = arr(sm$log$cumhaz[sel]),
        std_chaz = arr(sm$log$std.chaz[sel]),
        lower_log = arr(sm$log$lower[sel]),
        upper_log = arr(sm$log$upper[sel]),
        lower_log_log = arr(sm$log_log$lower[sel]),
        upper_log_log = arr(sm$log_log$upper[sel]),
        lower_plain = arr(sm$plain$lower[sel]),
        upper_plain = arr(sm$plain$upper[sel])
      )
    )
    groups[[lab]] <- g
  }
  list(
    r_calls = k$calls,
    landmark_call = sprintf("summary(<fit>, times = c(%s), extend = TRUE)",
                            paste(landmarks, collapse = ", ")),
    rmst_call = sprintf("summary(<fit>, rmean = %s)$table", tau),
    landmark_times = arr(landmarks),
    groups = groups
  )
}

# the full step table of one curve
steps_block <- function(surv_formula, data_name) {
  call <- sprintf("survfit(%s, data = %s)", surv_formula, data_name)
  f <- ev(call)
  list(
    r_call = call,
    time = arr(f$time),
    n_risk = arr(f$n.risk),
    n_event = arr(f$n.event),
    n_censor = arr(f$n.censor),
    surv = arr(f$surv),
    std_err_log_surv = arr(f$std.err),
    std_err_surv = arr(f$std.err * f$surv),
    lower_log = arr(f$lower),
    upper_log = arr(f$upper),
    cumhaz = arr(f$cumhaz),
    std_chaz = arr(f$std.chaz)
  )
}

# reverse Kaplan-Meier: medians only
reverse_km_block <- function(surv_formula, data_name) {
  k <- km_fits(surv_formula, data_name)
  tab <- table_rows(summary(k$fits$log)$table)
  groups <- list()
  for (lab in strata_labels(k$fits$log)) {
    groups[[lab]] <- list(records = unname(tab[lab, "records"]),
                          events = unname(tab[lab, "events"]),
                          median = median_block(k$fits, lab))
  }
  list(r_calls = k$calls, groups = groups)
}

logrank_block <- function(formula, data_name, rho) {
  call <- sprintf("survdiff(%s, data = %s, rho = %s)", formula, data_name, rho)
  s <- ev(call)
  obs <- if (is.matrix(s$obs)) rowSums(s$obs) else s$obs
  expd <- if (is.matrix(s$exp)) rowSums(s$exp) else s$exp
  df <- sum(expd > 0) - 1
  groups <- list()
  labs <- names(s$n)
  for (i in seq_along(labs)) {
    groups[[labs[i]]] <- list(n = unname(as.numeric(s$n[i])), observed = unname(obs[i]),
                              expected = unname(expd[i]),
                              o_minus_e = unname(obs[i] - expd[i]))
  }
  out <- list(r_call = call, rho = rho, chisq = s$chisq, df = df,
              p = pchisq(s$chisq, df, lower.tail = FALSE), groups = groups,
              var = rows(s$var))
  if (grepl("strata\\(", formula)) {
    # stratum sizes from the rows actually used
    mf <- ev(sprintf("model.frame(%s, data = %s)", formula, data_name))
    st <- mf[[grep("^strata\\(", names(mf))]]
    tabn <- table(st)  # labels as strata() writes them ("ph.ecog=0"; factor levels bare)
    out$strata_n <- as.list(setNames(as.numeric(tabn), names(tabn)))
  }
  nd <- length(s$na.action)
  if (nd > 0) out$n_dropped_missing <- nd
  out
}

cox_block <- function(call) {
  fit <- ev(call)
  z <- qnorm(0.975)
  se <- sqrt(diag(fit$var))
  robust <- !is.null(fit$naive.var)
  coefs <- list()
  for (i in seq_along(fit$coefficients)) {
    b <- unname(fit$coefficients[i])
    c1 <- list(coef = b)
    if (robust) {
      c1$se <- unname(sqrt(diag(fit$naive.var))[i])
      c1$robust_se <- unname(se[i])
    } else {
      c1$se <- unname(se[i])
    }
    c1$hr <- exp(b)
    c1$hr_lower95 <- exp(b - z * se[i])
    c1$hr_upper95 <- exp(b + z * se[i])
    c1$z <- unname(b / se[i])
    c1$p <- unname(2 * pnorm(-abs(b / se[i])))
    coefs[[names(fit$coefficients)[i]]] <- lapply(c1, unname)
  }
  p <- length(fit$coefficients)
  test <- function(stat) list(stat = unname(stat), df = p,
                              p = pchisq(unname(stat), p, lower.tail = FALSE))
  cc <- fit$concordance
  out <- list(
    r_call = call, ties = fit$method, n = fit$n, nevent = fit$nevent,
    n_dropped_missing = length(fit$na.action),
    coefficients = coefs,
    loglik_null = fit$loglik[1], loglik_final = fit$loglik[2],
    lr_test = test(2 * diff(fit$loglik)),
    wald_test = test(fit$wald.test),
    score_test = test(fit$score)
  )
  if (robust) out$robust_score_test <- test(as.numeric(fit$rscore))
  out$concordance <- list(c = unname(cc["concordance"]), se = unname(cc["std"]),
                          concordant = unname(cc["concordant"]),
                          discordant = unname(cc["discordant"]),
                          tied_x = unname(cc["tied.x"]), tied_y = unname(cc["tied.y"]),
                          tied_xy = unname(cc["tied.xy"]))
  out$iterations <- fit$iter
  out$vcov <- rows(fit$var)
  if (robust) out$naive_vcov <- rows(fit$naive.var)
  out$vcov_order <- names(fit$coefficients)
  out
}

zph_block <- function(cox_call) {
  call <- sprintf('cox.zph(%s, transform = "km", terms = TRUE)', cox_call)
  z <- ev(call)
  tab <- list()
  for (r in rownames(z$table)) {
    tab[[r]] <- list(chisq = unname(z$table[r, "chisq"]), df = unname(z$table[r, "df"]),
                     p = unname(z$table[r, "p"]))
  }
  list(r_call = call, transform = "km", table = tab)
}

# ------------------------------------------------------------------------------------------
# lung
# ------------------------------------------------------------------------------------------

data(cancer, package = "survival")
lung <- survival::lung
write_csv_file(lung, "data/lung.csv")
lung_landmarks <- c(180, 365, 540, 730)

lung_cox <- 'coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung, ties = "%s"%s)'

lung_json <- list(
  dataset = "lung",
  json_conventions = json_conventions,
  source = "survival::lung (data(cancer, package='survival'))",
  r_versions = r_versions(),
  data_file = "data/lung.csv",
  endpoint = list(
    time = "time (days)",
    event = "status == 2 (dead); status 1 = censored",
    groups = "sex (1 = male, 2 = female); ph.ecog (0-3, NA for 1 subject)"
  ),
  km = list(
    by_sex = km_block("Surv(time, status == 2) ~ sex", "lung", lung_landmarks, 730),
    by_ph_ecog = c(
      km_block("Surv(time, status == 2) ~ ph.ecog", "lung", lung_landmarks, 730),
      list(note = "the subject with missing ph.ecog is dropped; only one subject has ph.ecog = 3")
    ),
    overall = km_block("Surv(time, status == 2) ~ 1", "lung", lung_landmarks, 730)
  ),
  km_steps_overall = steps_block("Surv(time, status == 2) ~ 1", "lung"),
  followup_reverse_km = list(
    description = paste(
      "Median follow-up by reverse Kaplan-Meier: censoring (status == 1) is the event,",
      "deaths are censored"
    ),
    overall = reverse_km_block("Surv(time, status == 1) ~ 1", "lung"),
    by_sex = reverse_km_block("Surv(time, status == 1) ~ sex", "lung")
  ),
  logrank = list(
    sex_rho0 = logrank_block("Surv(time, status == 2) ~ sex", "lung", 0),
    sex_rho1 = logrank_block("Surv(time, status == 2) ~ sex", "lung", 1),
    sex_stratified_ph_ecog_rho0 =
      logrank_block("Surv(time, status == 2) ~ sex + strata(ph.ecog)", "lung", 0),
    sex_stratified_ph_ecog_rho1 =
      logrank_block("Surv(time, status == 2) ~ sex + strata(ph.ecog)", "lung", 1),
    ph_ecog_rho0 = logrank_block("Surv(time, status == 2) ~ ph.ecog", "lung", 0)
  ),
  cox = list(
    efron = cox_block(sprintf(lung_cox, "efron", "")),
    breslow = cox_block(sprintf(lung_cox, "breslow", "")),
    efron_robust = cox_block(sprintf(lung_cox, "efron", ", robust = TRUE")),
    sex_only_efron =
      cox_block('coxph(Surv(time, status == 2) ~ sex, data = lung, ties = "efron")'),
    sex_only_breslow =
      cox_block('coxph(Surv(time, status == 2) ~ sex, data = lung, ties = "breslow")')
  ),
  cox_zph = list(
    efron = zph_block(sprintf(lung_cox, "efron", "")),
    breslow = zph_block(sprintf(lung_cox, "breslow", ""))
  )
)

# --- propensity block (lung) ---------------------------------------------------------------
lung_ps <- lung[!is.na(lung$ph.ecog), ]
lung_ps$female <- as.integer(lung_ps$sex == 2)
lung_ps$dead <- as.integer(lung_ps$status == 2)
lung_ps$csv_row <- which(!is.na(lung$ph.ecog))
rownames(lung_ps) <- NULL

ps_call <- "glm(female ~ age + ph.ecog, family = binomial(), data = lung_ps)"
ps_fit <- ev(ps_call)
ps_sum <- summary(ps_fit)$coefficients
ps <- unname(fitted(ps_fit))
A <- lung_ps$female
lung_ps$iptw <- A / ps + (1 - A) / (1 - ps)
lung_ps$sw <- A * mean(A) / ps + (1 - A) * (1 - mean(A)) / (1 - ps)

wsummary <- function(w) list(sum_treated = sum(w[A == 1]), sum_control = sum(w[A == 0]),
                             min = min(w), max = max(w), mean = mean(w))

covs <- c("age", "ph.ecog")
smd_before <- list()
smd_after <- list()
for (v in covs) {
  x <- lung_ps[[v]]
  m1 <- mean(x[A == 1]); m0 <- mean(x[A == 0])
  v1 <- var(x[A == 1]); v0 <- var(x[A == 0])
  smd_before[[v]] <- list(mean_treated = m1, mean_control = m0, var_treated = v1,
                          var_control = v0, smd_pooled = (m1 - m0) / sqrt((v1 + v0) / 2))
  w <- lung_ps$sw
  wstat <- function(sel) {
    ww <- w[sel]; xx <- x[sel]
    wm <- sum(ww * xx) / sum(ww)
    vb <- sum(ww * (xx - wm)^2) / sum(ww)
    vu <- vb * sum(ww)^2 / (sum(ww)^2 - sum(ww^2))
    c(wm = wm, vb = vb, vu = vu)
  }
  t1 <- wstat(A == 1); t0 <- wstat(A == 0)
  d <- unname(t1["wm"] - t0["wm"])
  smd_after[[v]] <- list(
    wmean_treated = unname(t1["wm"]), wmean_control = unname(t0["wm"]),
    wvar_biased_treated = unname(t1["vb"]), wvar_biased_control = unname(t0["vb"]),
    wvar_unbiased_treated = unname(t1["vu"]), wvar_unbiased_control = unname(t0["vu"]),
    smd_unweighted_pooled_sd = d / sqrt((v1 + v0) / 2),
    smd_weighted_biased_sd = d / sqrt(unname(t1["vb"] + t0["vb"]) / 2),
    smd_weighted_unbiased_sd = d / sqrt(unname(t1["vu"] + t0["vu"]) / 2)
  )
}

weighted_km <- function(robust) {
  call <- sprintf("survfit(Surv(time, dead) ~ female, data = lung_ps, weights = sw, robust = %s)",
                  robust)
  f <- ev(call)
  s <- summary(f, times = lung_landmarks, extend = TRUE)
  tab <- summary(f)$table
  groups <- list()
  for (lab in names(f$strata)) {
    sel <- as.character(s$strata) == lab
    groups[[lab]] <- list(
      time = arr(s$time[sel]), n_risk_weighted = arr(s$n.risk[sel]),
      surv = arr(s$surv[sel]), std_err = arr(s$std.err[sel]),
      lower_log = arr(s$lower[sel]), upper_log = arr(s$upper[sel]),
      median = unname(tab[lab, "median"]), median_lower = unname(tab[lab, "0.95LCL"]),
      median_upper = unname(tab[lab, "0.95UCL"])
    )
  }
  list(r_call = call, groups = groups)
}

m_call <- paste0('matchit(female ~ age + ph.ecog, data = lung_ps, method = "nearest", ',
                 'distance = "glm", caliper = 0.2, ratio = 1, replace = FALSE)')
m_out <- ev(m_call)
m_sum <- summary(m_out)
nn <- m_sum$nn
nn_list <- list()
for (r in rownames(nn)) nn_list[[r]] <- list(control = unname(nn[r, "Control"]),
                                             treated = unname(nn[r, "Treated"]))
bal <- function(tab) {
  out <- list()
  for (r in rownames(tab)) {
    g <- function(col) if (col %in% colnames(tab)) unname(tab[r, col]) else NA
    out[[r]] <- list(means_treated = g("Means Treated"), means_control = g("Means Control"),
                     std_mean_diff = g("Std. Mean Diff."), var_ratio = g("Var. Ratio"),
                     ecdf_mean = g("eCDF Mean"), ecdf_max = g("eCDF Max"),
                     std_pair_dist = g("Std. Pair Dist."))
  }
  out
}
lung_ps_matched <- match.data(m_out)
mm <- m_out$match.matrix
treated_row <- as.integer(rownames(mm))
control_row <- as.integer(mm[, 1])
keep <- !is.na(control_row)
treated_row <- treated_row[keep]; control_row <- control_row[keep]
smd_matched <- list()
for (v in covs) {
  x <- lung_ps[[v]]
  xm <- lung_ps_matched[[v]]; am <- lung_ps_matched$female
  m1 <- mean(xm[am == 1]); m0 <- mean(xm[am == 0])
  v1 <- var(xm[am == 1]); v0 <- var(xm[am == 0])
  smd_matched[[v]] <- list(
    mean_treated = m1, mean_control = m0, var_treated = v1, var_control = v0,
    smd_pooled = (m1 - m0) / sqrt((v1 + v0) / 2),
    smd_fullsample_pooled_sd = (m1 - m0) / sqrt((var(x[A == 1]) + var(x[A == 0])) / 2),
    smd_fullsample_treated_sd = (m1 - m0) / sd(x[A == 1])
  )
}

lung_json$propensity <- list(
  analysis_data = "lung_ps",
  n = nrow(lung_ps), n_treated = sum(A), n_control = sum(1 - A),
  treatment = paste(
    "female = as.integer(sex == 2) (1 = female 'treated', 0 = male 'control');",
    "analysis data lung_ps = lung rows with non-missing ph.ecog (n = 227),",
    "dead = as.integer(status == 2)"
  ),
  ps_model = list(
    r_call = ps_call,
    coefficients = setNames(lapply(rownames(ps_sum), function(r) list(
      estimate = unname(ps_sum[r, 1]), se = unname(ps_sum[r, 2]),
      z = unname(ps_sum[r, 3]), p = unname(ps_sum[r, 4]))), rownames(ps_sum)),
    deviance = ps_fit$deviance, null_deviance = ps_fit$null.deviance, aic = ps_fit$aic,
    ps_summary = list(min = min(ps), max = max(ps), mean_treated = mean(ps[A == 1]),
                      mean_control = mean(ps[A == 0]), sd_all = sd(ps)),
    ps_values = arr(ps),
    ps_values_note = "fitted(glm) in the row order of lung_ps"
  ),
  weights = list(
    definition = paste("iptw (ATE) = A/ps + (1-A)/(1-ps); sw (stabilized ATE) =",
                       "A*mean(A)/ps + (1-A)*(1-mean(A))/(1-ps)"),
    iptw = wsummary(lung_ps$iptw), sw = wsummary(lung_ps$sw)
  ),
  smd_before = smd_before,
  smd_after_weighting = smd_after,
  smd_after_weighting_note = "the weighted SMDs do not change when sw is replaced by iptw",
  weighted_km_sw = list(model_based = weighted_km("FALSE"), robust_ij = weighted_km("TRUE")),
  landmark_times = arr(lung_landmarks),
  weighted_cox_sw = cox_block(paste0("coxph(Surv(time, dead) ~ female, data = lung_ps, ",
                                     'weights = sw, robust = TRUE, ties = "efron")')),
  weighted_cox_iptw = cox_block(paste0("coxph(Surv(time, dead) ~ female, data = lung_ps, ",
                                       'weights = iptw, robust = TRUE, ties = "efron")')),
  unweighted_cox = cox_block('coxph(Surv(time, dead) ~ female, data = lung_ps, ties = "efron")'),
  matchit = list(
    r_call = m_call,
    matchit_version = pkg_version("MatchIt"),
    caliper_width_ps_scale = 0.2 * sd(m_out$distance),
    caliper_note = paste(
      "caliper 0.2 is in SD units of the propensity score (std.caliper = TRUE), on the",
      "probability scale; treated units are matched in descending PS order (m.order = 'largest')"
    ),
    nn = nn_list,
    balance_all = bal(m_sum$sum.all),
    balance_matched = bal(m_sum$sum.matched),
    balance_note = paste("MatchIt's Std. Mean Diff. (estimand ATT) divides by the SD of the",
                         "treated group in the full sample"),
    smd_matched_own = smd_matched,
    pairs = list(treated_row = arr(treated_row), control_row = arr(control_row),
                 treated_csv_row = arr(lung_ps$csv_row[treated_row]),
                 control_csv_row = arr(lung_ps$csv_row[control_row])),
    pairs_note = paste("*_row: 1-based row in lung_ps; *_csv_row: 1-based data row of",
                       "data/lung.csv"),
    matched_cox = cox_block(paste0("coxph(Surv(time, dead) ~ female + cluster(subclass), ",
                                   'data = lung_ps_matched, ties = "efron")'))
  )
)
write_json_file(lung_json, "lung.json")

# ------------------------------------------------------------------------------------------
# veteran
# ------------------------------------------------------------------------------------------

veteran <- survival::veteran
write_csv_file(veteran, "data/veteran.csv")
vet_landmarks <- c(30, 90, 180, 365)
vet_cox <- 'coxph(Surv(time, status) ~ trt + celltype + karno + age, data = veteran, ties = "%s"%s)'

veteran_json <- list(
  dataset = "veteran",
  json_conventions = json_conventions,
  source = "survival::veteran (data(cancer, package='survival'))",
  r_versions = r_versions(),
  data_file = "data/veteran.csv",
  endpoint = list(
    time = "time (days)",
    event = "status (1 = dead, 0 = censored)",
    groups = paste("trt (1 = standard, 2 = test); celltype factor (squamous [reference],",
                   "smallcell, adeno, large)")
  ),
  km = list(
    by_trt = km_block("Surv(time, status) ~ trt", "veteran", vet_landmarks, 365),
    by_celltype = km_block("Surv(time, status) ~ celltype", "veteran", vet_landmarks, 365),
    overall = km_block("Surv(time, status) ~ 1", "veteran", vet_landmarks, 365)
  ),
  km_steps_overall = steps_block("Surv(time, status) ~ 1", "veteran"),
  followup_reverse_km = list(
    description = "Median follow-up by reverse Kaplan-Meier: status == 0 is the event",
    overall = reverse_km_block("Surv(time, status == 0) ~ 1", "veteran"),
    by_trt = reverse_km_block("Surv(time, status == 0) ~ trt", "veteran")
  ),
  logrank = list(
    trt_rho0 = logrank_block("Surv(time, status) ~ trt", "veteran", 0),
    trt_rho1 = logrank_block("Surv(time, status) ~ trt", "veteran", 1),
    trt_stratified_celltype_rho0 =
      logrank_block("Surv(time, status) ~ trt + strata(celltype)", "veteran", 0),
    trt_stratified_celltype_rho1 =
      logrank_block("Surv(time, status) ~ trt + strata(celltype)", "veteran", 1),
    celltype_rho0 = logrank_block("Surv(time, status) ~ celltype", "veteran", 0),
    celltype_rho1 = logrank_block("Surv(time, status) ~ celltype", "veteran", 1)
  ),
  cox = list(
    efron = cox_block(sprintf(vet_cox, "efron", "")),
    breslow = cox_block(sprintf(vet_cox, "breslow", "")),
    efron_robust = cox_block(sprintf(vet_cox, "efron", ", robust = TRUE"))
  ),
  cox_zph = list(
    efron = zph_block(sprintf(vet_cox, "efron", "")),
    breslow = zph_block(sprintf(vet_cox, "breslow", ""))
  )
)
write_json_file(veteran_json, "veteran.json")

# ------------------------------------------------------------------------------------------
# heart (jasa1, counting-process form)
# ------------------------------------------------------------------------------------------

data(heart, package = "survival")
write_csv_file(jasa1, "data/jasa1.csv")
by_id <- split(jasa1, jasa1$id)
jasa1_subj <- do.call(rbind, lapply(by_id, function(d) {
  d <- d[order(d$stop), ]
  last <- d[nrow(d), ]
  data.frame(id = last$id, futime = max(d$stop), dead = last$event, age = last$age,
             year = last$year, surgery = last$surgery,
             ever_transplant = max(d$transplant))
}))
rownames(jasa1_subj) <- NULL
write_csv_file(jasa1_subj, "derived/jasa1_per_patient.csv")
heart_landmarks <- c(30, 90, 180, 365)
heart_cox <- 'coxph(Surv(start, stop, event) ~ age + surgery + transplant%s, data = jasa1, ties = "%s")'

heart_json <- list(
  dataset = "heart",
  json_conventions = json_conventions,
  source = paste("survival::jasa1 (data(heart, package='survival')); Stanford heart",
                 "transplant data, counting-process form"),
  r_versions = r_versions(),
  data_file = "data/jasa1.csv",
  endpoint = list(
    time = "(start, stop] in days since acceptance; per-patient futime = last stop",
    event = "event (1 = died at stop)",
    covariates = paste("age (years - 48), surgery (prior bypass 1/0), transplant",
                       "(time-varying 1/0), year (years since 1 Nov 1967)"),
    per_patient_data = paste(
      "jasa1_subj: one row per id, futime = max(stop), dead = event of the last interval,",
      "ever_transplant = max(transplant); written to derived/jasa1_per_patient.csv"
    )
  ),
  km = list(
    overall_per_patient = km_block("Surv(futime, dead) ~ 1", "jasa1_subj", heart_landmarks, 365),
    by_surgery_per_patient =
      km_block("Surv(futime, dead) ~ surgery", "jasa1_subj", heart_landmarks, 365),
    overall_counting_process = c(
      km_block("Surv(start, stop, event) ~ 1", "jasa1", heart_landmarks, 365),
      list(note = "KM from the (start, stop] rows; the same curve as the per-patient one")
    ),
    simon_makuch_by_transplant = c(
      km_block("Surv(start, stop, event) ~ transplant", "jasa1", heart_landmarks, 365),
      list(note = paste("Simon-Makuch type curves: (start, stop] KM grouped by the current",
                        "transplant status, so patients move from transplant=0 to transplant=1"))
    )
  ),
  km_steps_overall = steps_block("Surv(futime, dead) ~ 1", "jasa1_subj"),
  km_steps_overall_counting_process = steps_block("Surv(start, stop, event) ~ 1", "jasa1"),
  followup_reverse_km = list(
    description = "Median follow-up by reverse Kaplan-Meier: dead == 0 is the event",
    overall = reverse_km_block("Surv(futime, dead == 0) ~ 1", "jasa1_subj")
  ),
  logrank = list(
    surgery_rho0 = logrank_block("Surv(futime, dead) ~ surgery", "jasa1_subj", 0),
    surgery_rho1 = logrank_block("Surv(futime, dead) ~ surgery", "jasa1_subj", 1)
  ),
  logrank_note = paste(
    "survdiff takes no (start, stop] data: the time-varying transplant comparison is the",
    "Cox score test in mantel_byar_score_test; there is no natural stratum for heart"
  ),
  cox = list(
    efron = cox_block(sprintf(heart_cox, "", "efron")),
    breslow = cox_block(sprintf(heart_cox, "", "breslow")),
    efron_robust_cluster_id = cox_block(sprintf(heart_cox, " + cluster(id)", "efron"))
  ),
  cox_zph = list(
    efron = zph_block(sprintf(heart_cox, "", "efron")),
    breslow = zph_block(sprintf(heart_cox, "", "breslow"))
  ),
  mantel_byar_score_test = list(
    description = paste("Score test of the time-varying transplant indicator alone; with",
                        "ties = 'breslow' it is the Mantel-Byar test"),
    breslow = cox_block(
      'coxph(Surv(start, stop, event) ~ transplant, data = jasa1, ties = "breslow")'),
    efron = cox_block(
      'coxph(Surv(start, stop, event) ~ transplant, data = jasa1, ties = "efron")')
  )
)
write_json_file(heart_json, "heart.json")

# ------------------------------------------------------------------------------------------
# mgus2 (overall survival and competing risks)
# ------------------------------------------------------------------------------------------

mgus2 <- survival::mgus2
write_csv_file(mgus2, "data/mgus2.csv")
mgus2_cr <- mgus2
mgus2_cr$etime <- ifelse(mgus2_cr$pstat == 0, mgus2_cr$futime, mgus2_cr$ptime)
mgus2_cr$event <- ifelse(mgus2_cr$pstat == 0, 2 * mgus2_cr$death, 1)
mgus2_cr$event_f <- factor(mgus2_cr$event, 0:2, labels = c("censor", "pcm", "death"))
mgus2_cr$sexM <- as.integer(mgus2_cr$sex == "M")
mgus2_cr$agegrp <- cut(mgus2_cr$age, c(-Inf, 60, 70, 80, Inf), right = FALSE)
mg_landmarks <- c(60, 120, 240, 360)
cause_codes <- c("1" = "pcm", "2" = "death")
mg_cox <- 'coxph(Surv(futime, death) ~ sex + age, data = mgus2_cr, ties = "%s"%s)'

cuminc_block <- function(call) {
  ci <- ev(call)
  tp <- timepoints(ci, mg_landmarks)
  curves <- list()
  for (nm in rownames(tp$est)) {
    parts <- strsplit(nm, " ")[[1]]
    cause <- parts[length(parts)]
    curves[[nm]] <- list(group = paste(parts[-length(parts)], collapse = " "),
                         cause = as.numeric(cause),
                         cause_label = unname(cause_codes[cause]),
                         time = arr(mg_landmarks), est = arr(tp$est[nm, ]),
                         var = arr(tp$var[nm, ]))
  }
  out <- list(r_call = call,
              timepoints_call = sprintf("timepoints(<cuminc>, times = c(%s))",
                                        paste(mg_landmarks, collapse = ", ")),
              curves = curves)
  if (!is.null(ci$Tests)) {
    gt <- list()
    for (r in rownames(ci$Tests)) {
      gt[[r]] <- list(cause = as.numeric(r), cause_label = unname(cause_codes[r]),
                      stat = unname(ci$Tests[r, "stat"]), p = unname(ci$Tests[r, "pv"]),
                      df = unname(ci$Tests[r, "df"]))
    }
    out$gray_test <- gt
  }
  out
}

crr_coefs <- function(fit) {
  se <- sqrt(diag(fit$var))
  z <- qnorm(0.975)
  out <- list()
  for (i in seq_along(fit$coef)) {
    b <- unname(fit$coef[i])
    out[[names(fit$coef)[i]]] <- list(coef = b, se = se[i], shr = exp(b),
                                      shr_lower95 = exp(b - z * se[i]),
                                      shr_upper95 = exp(b + z * se[i]), z = b / se[i],
                                      p = 2 * pnorm(-abs(b / se[i])))
  }
  lapply(out, function(x) lapply(x, unname))
}

crr_block <- function(failcode) {
  base <- paste0("crr(ftime = mgus2_cr$etime, fstatus = mgus2_cr$event, ",
                 "cov1 = cbind(sexM = mgus2_cr$sexM, age = mgus2_cr$age), ",
                 "failcode = ", failcode, ", cencode = 0")
  call <- paste0(base, ", gtol = 1e-12, maxiter = 100)")
  call0 <- paste0(base, ")")
  fit <- ev(call)
  fit0 <- ev(call0)
  lr <- 2 * (fit$loglik - fit$loglik.null)
  list(
    r_call = call, failcode = failcode, n = fit$n, n_missing = fit$n.missing,
    converged = fit$converged, coefficients = crr_coefs(fit),
    loglik = fit$loglik, loglik_null = fit$loglik.null,
    lr_stat = lr, lr_df = length(fit$coef),
    lr_p = pchisq(lr, length(fit$coef), lower.tail = FALSE),
    vcov = rows(fit$var),
    tolerance_note = paste(
      "The main fit uses gtol = 1e-12, maxiter = 100 because crr's defaults (gtol = 1e-6,",
      "maxiter = 10) can leave relative errors of a few 1e-5; at gtol = 1e-12 the gradient",
      "criterion may sit below floating-point noise, so converged can be FALSE although the",
      "coefficients are at a fixed point"
    ),
    default_tolerance_fit = list(r_call = call0, converged = fit0$converged,
                                 coefficients = crr_coefs(fit0), loglik = fit0$loglik,
                                 loglik_null = fit0$loglik.null)
  )
}

aj_block <- function(rhs) {
  call <- sprintf("survfit(Surv(etime, event_f) ~ %s, data = mgus2_cr)", rhs)
  f <- ev(call)
  s <- summary(f, times = mg_landmarks, extend = TRUE)
  states <- f$states
  labels <- strata_labels(f)
  groups <- list()
  for (lab in labels) {
    sel <- if (lab == "all") rep(TRUE, length(s$time)) else as.character(s$strata) == lab
    st <- list()
    for (j in seq_along(states)) {
      st[[states[j]]] <- list(pstate = arr(s$pstate[sel, j]), std_err = arr(s$std.err[sel, j]),
                              lower = arr(s$lower[sel, j]), upper = arr(s$upper[sel, j]))
    }
    # n.risk of the initial state
    nr <- if (is.matrix(s$n.risk)) s$n.risk[sel, 1] else s$n.risk[sel]
    groups[[lab]] <- list(time = arr(s$time[sel]), n_risk = arr(nr), states = st)
  }
  list(r_call = call,
       summary_call = sprintf("summary(<fit>, times = c(%s), extend = TRUE)",
                              paste(mg_landmarks, collapse = ", ")),
       states = arr(states), groups = groups)
}

mgus2_json <- list(
  dataset = "mgus2",
  json_conventions = json_conventions,
  source = "survival::mgus2 (data(cancer, package='survival'))",
  r_versions = r_versions(),
  data_file = "data/mgus2.csv",
  endpoint = list(
    overall_survival = "Surv(futime, death); futime in months",
    competing_risks = paste(
      "etime = ifelse(pstat == 0, futime, ptime); event = ifelse(pstat == 0, 2*death, 1):",
      "0 = censored, 1 = PCM (plasma-cell malignancy), 2 = death without PCM; months"
    ),
    covariates = "sex (factor F [reference] / M; sexM = as.integer(sex == 'M')), age (years)",
    agegrp = paste("cut(age, breaks = c(-Inf, 60, 70, 80, Inf), right = FALSE), the stratum",
                   "of the stratified log-rank tests")
  ),
  km = list(
    os_by_sex = km_block("Surv(futime, death) ~ sex", "mgus2_cr", mg_landmarks, 360),
    os_overall = km_block("Surv(futime, death) ~ 1", "mgus2_cr", mg_landmarks, 360)
  ),
  km_steps_overall = steps_block("Surv(futime, death) ~ 1", "mgus2_cr"),
  followup_reverse_km = list(
    description = "Median follow-up (overall survival scale) by reverse Kaplan-Meier: death == 0 is the event",
    overall = reverse_km_block("Surv(futime, death == 0) ~ 1", "mgus2_cr"),
    by_sex = reverse_km_block("Surv(futime, death == 0) ~ sex", "mgus2_cr")
  ),
  logrank = list(
    os_sex_rho0 = logrank_block("Surv(futime, death) ~ sex", "mgus2_cr", 0),
    os_sex_rho1 = logrank_block("Surv(futime, death) ~ sex", "mgus2_cr", 1),
    os_sex_stratified_agegrp_rho0 =
      logrank_block("Surv(futime, death) ~ sex + strata(agegrp)", "mgus2_cr", 0),
    os_sex_stratified_agegrp_rho1 =
      logrank_block("Surv(futime, death) ~ sex + strata(agegrp)", "mgus2_cr", 1)
  ),
  cox = list(
    efron = cox_block(sprintf(mg_cox, "efron", "")),
    breslow = cox_block(sprintf(mg_cox, "breslow", "")),
    efron_robust = cox_block(sprintf(mg_cox, "efron", ", robust = TRUE")),
    cause_specific_pcm_efron =
      cox_block('coxph(Surv(etime, event == 1) ~ sex + age, data = mgus2_cr, ties = "efron")'),
    cause_specific_death_efron =
      cox_block('coxph(Surv(etime, event == 2) ~ sex + age, data = mgus2_cr, ties = "efron")')
  ),
  cox_zph = list(
    efron = zph_block(sprintf(mg_cox, "efron", "")),
    breslow = zph_block(sprintf(mg_cox, "breslow", ""))
  ),
  competing_risks = list(
    cause_codes = as.list(cause_codes),
    cuminc_by_sex = cuminc_block(paste0("cuminc(ftime = mgus2_cr$etime, fstatus = ",
                                        "mgus2_cr$event, group = mgus2_cr$sex, cencode = 0)")),
    cuminc_overall = cuminc_block(
      "cuminc(ftime = mgus2_cr$etime, fstatus = mgus2_cr$event, cencode = 0)"),
    crr_pcm = crr_block(1),
    crr_death = crr_block(2),
    aalen_johansen_by_sex = aj_block("sex"),
    aalen_johansen_overall = aj_block("1")
  )
)
write_json_file(mgus2_json, "mgus2.json")

# ------------------------------------------------------------------------------------------
# tests2x2: fixed 2 x 2 tables
# ------------------------------------------------------------------------------------------

# conditional MLE of the odds ratio and its exact limits, solved on the log(OR) scale
fisher_precise <- function(tab, conf.level = 0.95) {
  m <- sum(tab[, 1]); n <- sum(tab[, 2]); k <- sum(tab[1, ]); x <- tab[1, 1]
  lo <- max(0, k - n); hi <- min(k, m)
  support <- lo:hi
  logdc <- dhyper(support, m, n, k, log = TRUE)
  dens <- function(lor) { d <- logdc + lor * support; d <- exp(d - max(d)); d / sum(d) }
  mean_at <- function(lor) sum(support * dens(lor))
  lower_tail <- function(lor) sum(dens(lor)[support <= x])
  upper_tail <- function(lor) sum(dens(lor)[support >= x])
  solve <- function(f, target) {
    a <- -1; b <- 1
    while ((f(a) - target) * (f(b) - target) > 0) { a <- 2 * a; b <- 2 * b }
    uniroot(function(t) f(t) - target, c(a, b), tol = 1e-13)$root
  }
  est <- if (x == lo) 0 else if (x == hi) Inf else exp(solve(mean_at, x))
  up <- function(alpha) if (x == hi) Inf else exp(solve(lower_tail, alpha))
  low <- function(alpha) if (x == lo) 0 else exp(solve(upper_tail, alpha))
  a2 <- (1 - conf.level) / 2
  list(estimate = est,
       conf_int_two_sided = arr(c(low(a2), up(a2))),
       conf_int_less = arr(c(0, up(1 - conf.level))),
       conf_int_greater = arr(c(low(1 - conf.level), Inf)),
       method = paste("fisher.test's conditional MLE and exact CI re-solved with uniroot",
                      "on the log(OR) scale, tol = 1e-13"))
}

with_warnings <- function(expr) {
  w <- character(0)
  val <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}

group_block <- function(x, n) {
  b <- binom.test(x, n)
  w <- suppressWarnings(prop.test(x, n, correct = FALSE))
  wc <- suppressWarnings(prop.test(x, n, correct = TRUE))
  list(
    x = x, n = n, p_hat = x / n,
    binom_exact = list(r_call = sprintf("binom.test(%d, %d)", x, n),
                       estimate = unname(b$estimate), conf_int = arr(b$conf.int),
                       "p_vs_0.5" = b$p.value),
    wilson = list(r_call = sprintf("prop.test(%d, %d, correct = FALSE)", x, n),
                  conf_int = arr(w$conf.int), statistic = unname(w$statistic),
                  "p_vs_0.5" = w$p.value),
    wilson_cc = list(r_call = sprintf("prop.test(%d, %d, correct = TRUE)", x, n),
                     conf_int = arr(wc$conf.int))
  )
}

case_block <- function(label, x1, n1, x2, n2) {
  tab <- matrix(c(x1, n1 - x1, x2, n2 - x2), nrow = 2, byrow = TRUE)
  fisher <- function(alt) {
    f <- fisher.test(tab, alternative = alt)
    list(p = f$p.value, estimate = unname(f$estimate), conf_int = arr(f$conf.int),
         method = f$method)
  }
  c0 <- with_warnings(chisq.test(tab, correct = FALSE))
  c1 <- with_warnings(chisq.test(tab, correct = TRUE))
  p0 <- with_warnings(prop.test(c(x1, x2), c(n1, n2), correct = FALSE))
  p1 <- with_warnings(prop.test(c(x1, x2), c(n1, n2), correct = TRUE))
  pt <- function(r) list(statistic = unname(r$value$statistic),
                         parameter = unname(r$value$parameter), p = r$value$p.value,
                         estimate = list("prop 1" = unname(r$value$estimate[1]),
                                         "prop 2" = unname(r$value$estimate[2])),
                         conf_int = arr(r$value$conf.int), method = r$value$method,
                         warnings = arr(r$warnings))
  list(
    label = label,
    table = rows(tab),
    table_layout = paste("rows = group1, group2; columns = yes (events), no.",
                         "R: matrix(c(x1, n1-x1, x2, n2-x2), nrow = 2, byrow = TRUE)"),
    fisher_two_sided = fisher("two.sided"),
    fisher_less = fisher("less"),
    fisher_greater = fisher("greater"),
    fisher_precise = fisher_precise(tab),
    chisq_uncorrected = list(statistic = unname(c0$value$statistic),
                             parameter = unname(c0$value$parameter), p = c0$value$p.value,
                             method = c0$value$method, expected = rows(c0$value$expected),
                             warnings = arr(c0$warnings)),
    chisq_yates = list(statistic = unname(c1$value$statistic),
                       parameter = unname(c1$value$parameter), p = c1$value$p.value,
                       method = c1$value$method, warnings = arr(c1$warnings)),
    prop_test_two_sample_uncorrected = pt(p0),
    prop_test_two_sample_yates = pt(p1),
    risk_difference = x1 / n1 - x2 / n2,
    group1 = group_block(x1, n1),
    group2 = group_block(x2, n2)
  )
}

mc_tab <- matrix(c(10, 2, 9, 5), nrow = 2, byrow = TRUE)
mc1 <- mcnemar.test(mc_tab, correct = TRUE)
mc0 <- mcnemar.test(mc_tab, correct = FALSE)
mcb <- binom.test(2, 11, 0.5)

tests2x2_json <- list(
  r_versions = r_versions(),
  json_conventions = json_conventions,
  calls = list(
    fisher = "fisher.test(tab, alternative = ...)",
    chisq_uncorrected = "chisq.test(tab, correct = FALSE)",
    chisq_yates = "chisq.test(tab, correct = TRUE)",
    prop_test_two_sample = "prop.test(c(x1, x2), c(n1, n2), correct = FALSE/TRUE)",
    binom_exact = "binom.test(x, n) (Clopper-Pearson 95% CI)",
    wilson = "prop.test(x, n, correct = FALSE)$conf.int (Wilson score 95% CI)"
  ),
  two_by_two = list(
    cr_14of26_vs_64of79 = case_block("CR 14/26 vs 64/79", 14, 26, 64, 79),
    severe_crs_2of26_vs_24of79 = case_block("severe CRS 2/26 vs 24/79", 2, 26, 24, 79),
    response_8of10_vs_6of16 = case_block("response 8/10 vs 6/16", 8, 10, 6, 16),
    "6of7_vs_2of7" = case_block("6/7 vs 2/7", 6, 7, 2, 7),
    "2of7_vs_2of15" = case_block("2/7 vs 2/15", 2, 7, 2, 15)
  ),
  mcnemar = list(
    table = rows(mc_tab),
    table_layout = paste("paired table [[10, 2], [9, 5]]: rows = rater/test 1 (+, -),",
                         "columns = rater/test 2 (+, -); discordant b = 2, c = 9"),
    r_table = "matrix(c(10, 2, 9, 5), nrow = 2, byrow = TRUE)",
    corrected = list(r_call = "mcnemar.test(tab, correct = TRUE)",
                     statistic = unname(mc1$statistic), parameter = unname(mc1$parameter),
                     p = mc1$p.value, method = mc1$method),
    uncorrected = list(r_call = "mcnemar.test(tab, correct = FALSE)",
                       statistic = unname(mc0$statistic), parameter = unname(mc0$parameter),
                       p = mc0$p.value, method = mc0$method),
    exact_binomial = list(r_call = "binom.test(2, 11, 0.5)",
                          statistic = unname(mcb$statistic), parameter = unname(mcb$parameter),
                          p = mcb$p.value, estimate = unname(mcb$estimate),
                          conf_int = arr(mcb$conf.int), method = mcb$method)
  )
)
write_json_file(tests2x2_json, "tests2x2.json")

cat("reference files written to", normalizePath(outdir), "\n")
