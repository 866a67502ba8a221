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

# ------------------------------------------------------------------------------------------
# RMST of two groups (survRM2's unadjusted rmst2; survRM2 itself is not installed here, so
# its published formulas are written out below; each group's RMST and SE come from
# survival's print(fit, rmean = tau), i.e. summary(fit, rmean = tau)$table)
# ------------------------------------------------------------------------------------------

suppressPackageStartupMessages(library(survival))
lung_df <- read.csv(file.path("data", "lung.csv"))
veteran_df <- read.csv(file.path("data", "veteran.csv"))
rmst_block <- function(data_txt, time, status, arm, tau) {
  d <- ev(data_txt)
  tt <- d[[time]]; ss <- as.integer(d[[status]] == max(d[[status]])); aa <- d[[arm]]
  levs <- sort(unique(aa))
  if (is.null(tau)) tau <- min(sapply(levs, function(a) max(tt[aa == a])))
  call <- sprintf(
    "summary(survfit(Surv(%s, %s == max(%s)) ~ %s, data = %s), rmean = %.15g)$table",
    time, status, status, arm, data_txt, tau)
  tab <- ev(call)
  rm <- unname(tab[, "rmean"]); se <- unname(tab[, "se(rmean)"])
  z <- qnorm(0.975)
  rmtl <- tau - rm
  diff <- rm[2] - rm[1]; dse <- sqrt(se[1]^2 + se[2]^2)
  lr <- log(rm[2] / rm[1]); lse <- sqrt(se[2]^2 / rm[2]^2 + se[1]^2 / rm[1]^2)
  lt <- log(rmtl[2] / rmtl[1]); tse <- sqrt(se[2]^2 / rmtl[2]^2 + se[1]^2 / rmtl[1]^2)
  list(r_call = call, groups = arr(levs), tau = tau,
       rmst = arr(rm), rmst_se = arr(se), rmtl = arr(rmtl),
       difference = list(estimate = diff, se = dse, lower = diff - z * dse,
                         upper = diff + z * dse, p = 2 * pnorm(-abs(diff) / dse)),
       ratio = list(estimate = exp(lr), lower = exp(lr - z * lse), upper = exp(lr + z * lse),
                    p = 2 * pnorm(-abs(lr) / lse)),
       rmtl_ratio = list(estimate = exp(lt), lower = exp(lt - z * tse),
                         upper = exp(lt + z * tse), p = 2 * pnorm(-abs(lt) / tse)),
       formulas = paste("survRM2 rmst2 (Uno et al. 2014): difference rm2 - rm1, SE",
                        "sqrt(se1^2 + se2^2); ratios on the log scale with delta-method SE",
                        "sqrt(se2^2/rm2^2 + se1^2/rm1^2); normal CIs and two-sided P"))
}
write_json_file(list(
  r_versions = r_versions(c("survival", "jsonlite")),
  lung_sex_default_tau = rmst_block("lung_df", "time", "status", "sex", NULL),
  lung_sex_tau_365 = rmst_block("lung_df", "time", "status", "sex", 365),
  veteran_trt_default_tau = rmst_block("veteran_df", "time", "status", "trt", NULL),
  veteran_trt_tau_200 = rmst_block("veteran_df", "time", "status", "trt", 200)
), "rmst.json")

# ------------------------------------------------------------------------------------------
# Landmark analyses: S(t) since the landmark per exposure group, and the Cox HR on the
# landmark data (Stanford heart transplant, exposure = transplant)
# ------------------------------------------------------------------------------------------

jasa1_df <- read.csv(file.path("data", "jasa1.csv"))
heart_p <- read.csv(file.path("derived", "jasa1_per_patient.csv"))
tx_start <- tapply(jasa1_df$start[jasa1_df$transplant == 1], jasa1_df$id[jasa1_df$transplant == 1], min)
heart_p$txtime <- unname(tx_start[as.character(heart_p$id)])
lm_times <- c(30, 180, 365)
landmark_blocks <- lapply(c(30, 90, 180), function(L) {
  d <- subset(heart_p, futime > L)
  d$tx <- factor(ifelse(!is.na(d$txtime) & d$txtime <= L, "exposed", "unexposed"),
                 levels = c("unexposed", "exposed"))
  d$tl <- d$futime - L
  assign("lm_d", d, envir = globalenv())
  s_call <- sprintf("summary(survfit(Surv(tl, dead) ~ tx, data = lm_d), times = c(%s), extend = TRUE)",
                    paste(lm_times, collapse = ", "))
  s <- ev(s_call)
  c_call <- "coxph(Surv(tl, dead) ~ tx, data = lm_d)"
  f <- ev(c_call)
  sm <- summary(f)
  list(landmark = L, n = nrow(d), subset = "d <- subset(p, futime > L); tx <- txtime <= L (NA = never); tl <- futime - L",
       survival = list(r_call = s_call, strata = arr(as.character(s$strata)), time = arr(s$time),
                       n_risk = arr(s$n.risk), surv = arr(s$surv), std_err = arr(s$std.err),
                       lower = arr(s$lower), upper = arr(s$upper)),
       cox = list(r_call = c_call, coef = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))),
                  hr = unname(sm$conf.int[1, 1]), lower = unname(sm$conf.int[1, 3]),
                  upper = unname(sm$conf.int[1, 4]), p = unname(sm$coefficients[1, 5]),
                  lr_p = unname(sm$logtest["pvalue"]), n = f$n, events = f$nevent))
})
write_json_file(list(r_versions = r_versions(c("survival", "jsonlite")),
                     times_since_landmark = arr(lm_times), landmarks = landmark_blocks),
                "landmark.json")

# ------------------------------------------------------------------------------------------
# Multiple imputation: Rubin's rules as mice::pool / mice::pool.scalar, on data sets imputed
# by mice here and exported (data/lung_imputed.csv, data/mgus2_imputed.csv: column .imp)
# ------------------------------------------------------------------------------------------

suppressPackageStartupMessages({ library(mice); library(cmprsk) })
lung_mi <- lung_df[, c("time", "status", "age", "sex", "ph.ecog", "wt.loss", "meal.cal")]
imp_call <- "mice(lung_mi, m = 5, seed = 20261204, printFlag = FALSE)"
imp <- ev(imp_call)
lung_long <- complete(imp, "long")
write.csv(lung_long[, c(".imp", names(lung_mi))], file.path(outdir, "data", "lung_imputed.csv"),
          row.names = FALSE)
pool_rows <- function(pl) {
  s <- summary(pl, conf.int = TRUE)
  pp <- pl$pooled
  lapply(seq_len(nrow(pp)), function(i) list(
    term = as.character(pp$term[i]), m = pp$m[i], qbar = pp$estimate[i], ubar = pp$ubar[i],
    b = pp$b[i], t = pp$t[i], dfcom = pp$dfcom[i], df = pp$df[i], riv = pp$riv[i],
    lambda = pp$lambda[i], fmi = pp$fmi[i], se = s$std.error[i], statistic = s$statistic[i],
    p = s$p.value[i], lower = s[["2.5 %"]][i], upper = s[["97.5 %"]][i]))
}
cox_call <- "pool(with(imp, coxph(Surv(time, status) ~ age + sex + ph.ecog + wt.loss)))"
glm_call <- "pool(with(imp, glm(I(status == 2) ~ age + sex + ph.ecog + wt.loss, family = binomial)))"
cox_pool <- ev(cox_call)
glm_pool <- ev(glm_call)
# a proportion: patients with ph.ecog >= 2, variance p (1 - p) / n, pooled by pool.scalar
props <- sapply(1:5, function(i) mean(complete(imp, i)$ph.ecog >= 2))
prop_call <- "pool.scalar(props, props * (1 - props) / nrow(lung_mi), n = nrow(lung_mi), k = 1)"
prop_pool <- ev(prop_call)
# Fine-Gray (crr) on imputed mgus2: mice has no crr method; pool.scalar per coefficient with
# the complete-data df n - k
mg <- read.csv(file.path("data", "mgus2.csv"))
mg$etime <- ifelse(mg$pstat == 0, mg$futime, mg$ptime)
mg$event <- ifelse(mg$pstat == 0, 2 * mg$death, 1)
mg_mi <- mg[, c("etime", "event", "age", "hgb", "creat", "mspike")]
mg_imp <- mice(mg_mi, m = 5, seed = 20261205, printFlag = FALSE)
mg_long <- complete(mg_imp, "long")
write.csv(mg_long[, c(".imp", names(mg_mi))], file.path(outdir, "data", "mgus2_imputed.csv"),
          row.names = FALSE)
crr_fits <- lapply(1:5, function(i) {
  d <- complete(mg_imp, i)
  crr(d$etime, d$event, as.matrix(d[, c("age", "hgb", "creat", "mspike")]), failcode = 1,
      cencode = 0)
})
crr_pool <- lapply(1:4, function(j) {
  q <- sapply(crr_fits, function(f) f$coef[j]); u <- sapply(crr_fits, function(f) f$var[j, j])
  ps <- pool.scalar(q, u, n = nrow(mg_mi), k = 4)
  list(term = c("age", "hgb", "creat", "mspike")[j], qhat = arr(q), u = arr(u),
       qbar = ps$qbar, ubar = ps$ubar, b = ps$b, t = ps$t, df = ps$df, riv = ps$r,
       fmi = ps$fmi)
})
write_json_file(list(
  r_versions = r_versions(c("mice", "survival", "cmprsk", "jsonlite")),
  imputation = list(lung = imp_call, mgus2 = "mice(mg_mi, m = 5, seed = 20261205, printFlag = FALSE)",
                    files = arr(c("data/lung_imputed.csv", "data/mgus2_imputed.csv"))),
  cox = list(r_call = cox_call, terms = pool_rows(cox_pool)),
  logistic = list(r_call = glm_call, terms = pool_rows(glm_pool)),
  proportion = list(r_call = prop_call, estimates = arr(props), qbar = prop_pool$qbar,
                    ubar = prop_pool$ubar, b = prop_pool$b, t = prop_pool$t, df = prop_pool$df,
                    riv = prop_pool$r, fmi = prop_pool$fmi),
  finegray = list(r_call = "crr(etime, event, cbind(age, hgb, creat, mspike), failcode = 1) per imputation; pool.scalar(q, u, n = nrow, k = 4)",
                  terms = crr_pool)
), "mi_pool.json")

# ------------------------------------------------------------------------------------------
# Adjusted survival curves: g-formula from a Cox model (riskRegression::ate, which reports
# risks 1 - S with influence-function SEs) and IPTW-weighted Kaplan-Meier (survfit weights)
# ------------------------------------------------------------------------------------------

suppressPackageStartupMessages(library(riskRegression))
adj_times <- c(180, 365, 540)
lung_adj <- lung_df[!is.na(lung_df$ph.ecog), ]
lung_adj$dead <- as.integer(lung_adj$status == 2)
lung_adj$sex <- factor(lung_adj$sex)
ate_block <- function(cox_txt, treat, data_txt, times) {
  fit <- ev(cox_txt)
  call <- sprintf("ate(%s, treatment = \"%s\", data = %s, times = c(%s), verbose = FALSE)",
                  "<fit>", treat, data_txt, paste(times, collapse = ", "))
  a <- ate(fit, treatment = treat, data = ev(data_txt), times = times, verbose = FALSE)
  mr <- as.data.frame(a$meanRisk); dr <- as.data.frame(a$diffRisk)
  list(fit_call = cox_txt, r_call = call, times = arr(times),
       mean_risk = list(time = arr(mr$time), treatment = arr(as.character(mr$treatment)),
                        estimate = arr(mr$estimate), se = arr(mr$se)),
       diff_risk = list(time = arr(dr$time), A = arr(as.character(dr$A)),
                        B = arr(as.character(dr$B)), estimate = arr(dr$estimate),
                        se = arr(dr$se)))
}
veteran_adj <- veteran_df
veteran_adj$celltype <- factor(veteran_adj$celltype)
ps_call <- "glm(I(sex == 2) ~ age + ph.ecog, family = binomial, data = lung_adj)"
ps_fit <- ev(ps_call)
lung_adj$ps <- fitted(ps_fit)
lung_adj$w <- ifelse(lung_adj$sex == 2, 1 / lung_adj$ps, 1 / (1 - lung_adj$ps))
iptw_call <- sprintf("summary(survfit(Surv(time, dead) ~ sex, data = lung_adj, weights = w), times = c(%s))",
                     paste(adj_times, collapse = ", "))
iptw_s <- ev(iptw_call)
write_json_file(list(
  r_versions = r_versions(c("riskRegression", "survival", "jsonlite")),
  note = "riskRegression reports risks (1 - S); differences are B - A (A = reference level)",
  lung_sex_gformula = ate_block(
    "coxph(Surv(time, dead) ~ sex + age + ph.ecog, data = lung_adj, x = TRUE, y = TRUE)",
    "sex", "lung_adj", adj_times),
  veteran_celltype_gformula = ate_block(
    "coxph(Surv(time, status) ~ celltype + karno + age, data = veteran_adj, x = TRUE, y = TRUE)",
    "celltype", "veteran_adj", c(30, 90, 180)),
  lung_sex_iptw = list(ps_call = ps_call, weights = "w = 1 / ps (sex 2), 1 / (1 - ps) (sex 1)",
                       r_call = iptw_call, strata = arr(as.character(iptw_s$strata)),
                       time = arr(iptw_s$time), surv = arr(iptw_s$surv))
), "adjusted.json")

cat("reference files written to", normalizePath(outdir), "\n")
