# Extra cmprsk reference values for cartlens' competing-risks tests (beyond mgus2.json):
# Gray's test with 3 groups, strata and rho = 1, on small simulated data with ties.
# Run from this folder:  Rscript make_competing.R   (cmprsk 2.2-11, jsonlite)
suppressMessages({library(cmprsk); library(jsonlite)})
set.seed(1); n <- 300
t <- round(rexp(n) * 10); s <- sample(0:3, n, TRUE, prob = c(.3, .3, .3, .1))
g <- sample(c("a", "b", "c"), n, TRUE); st <- sample(1:2, n, TRUE)
d <- data.frame(time = t, status = s, group = g, stratum = st)
write.csv(d, "sim3.csv", row.names = FALSE)
tests <- function(r) lapply(split(as.data.frame(r$Tests), seq_len(nrow(r$Tests))),
                            function(x) list(stat = x$stat, p = x$pv, df = x$df))
r1 <- cuminc(d$time, d$status, d$group, d$stratum, rho = 1)
r0 <- cuminc(d$time, d$status, d$group)
tp <- timepoints(r0, c(1, 5, 10, 20))
out <- list(
  stratified_rho1 = list(r_call = "cuminc(time, status, group, stratum, rho = 1)", gray_test = tests(r1)),
  unstratified = list(r_call = "cuminc(time, status, group)", gray_test = tests(r0),
                      timepoints = list(times = c(1, 5, 10, 20), keys = rownames(tp$est),
                                        est = unname(tp$est), var = unname(tp$var))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "sim3.json")

# crr with 3 covariates (one with ties), competing causes 2 and 3, and a cengroup fit;
# predict.crr for two covariate rows.
set.seed(2); n <- 400
x1 <- rbinom(n, 1, 0.4); x2 <- round(rnorm(n, 60, 10)); x3 <- rnorm(n)
lp <- 0.5 * x1 + 0.02 * (x2 - 60) - 0.3 * x3
tt <- round(rexp(n, exp(lp) / 8), 1)
cc <- round(runif(n, 2, 30), 1)
cause <- sample(1:2, n, TRUE, prob = c(0.6, 0.4))
status <- ifelse(tt <= cc, cause, 0); ftime <- pmin(tt, cc)
cg <- sample(c("A", "B"), n, TRUE)
crrdat <- data.frame(ftime, status, x1, x2, x3, cg)
write.csv(crrdat, "crr3.csv", row.names = FALSE)
cov <- cbind(x1 = x1, x2 = x2, x3 = x3)
fit <- crr(ftime, status, cov, failcode = 1, cencode = 0, gtol = 1e-12, maxiter = 100)
fitg <- crr(ftime, status, cov, cengroup = cg, failcode = 1, cencode = 0, gtol = 1e-12, maxiter = 100)
newx <- rbind(c(0, 60, 0), c(1, 70, -1))
pr <- predict(fit, newx)
crrout <- function(f, call) list(r_call = call, coef = unname(f$coef), se = unname(sqrt(diag(f$var))),
  vcov = unname(f$var), loglik = f$loglik, loglik_null = f$loglik.null, converged = f$converged)
out$crr3 <- list(
  main = crrout(fit, "crr(ftime, status, cbind(x1, x2, x3), failcode = 1, cencode = 0, gtol = 1e-12, maxiter = 100)"),
  cengroup = crrout(fitg, "crr(ftime, status, cbind(x1, x2, x3), cengroup = cg, failcode = 1, cencode = 0, gtol = 1e-12, maxiter = 100)"),
  predict = list(r_call = "predict(<main>, rbind(c(0, 60, 0), c(1, 70, -1)))",
                 time = unname(pr[, 1]), cif1 = unname(pr[, 2]), cif2 = unname(pr[, 3])))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "sim3.json")

# Landmark analyses of heart transplant on the per-patient jasa1 data (transplant time
# recovered from jasa1 as the start of the first transplant = 1 interval).
suppressMessages(library(survival))
j <- read.csv("../reference/data/jasa1.csv")
p <- read.csv("../reference/derived/jasa1_per_patient.csv")
p$txtime <- sapply(p$id, function(i) { r <- j[j$id == i & j$transplant == 1, ]; if (nrow(r)) min(r$start) else NA })
lm_one <- function(L) {
  d <- subset(p, futime > L)
  d$tx <- as.integer(!is.na(d$txtime) & d$txtime <= L)
  d$t <- d$futime - L
  sd <- survdiff(Surv(t, dead) ~ tx, data = d)
  tab <- summary(survfit(Surv(t, dead) ~ tx, data = d))$table
  list(landmark = L, n = nrow(d), n_tx = sum(d$tx), chisq = unname(sd$chisq),
       p = pchisq(sd$chisq, 1, lower.tail = FALSE), median = unname(tab[, "median"]),
       lower = unname(tab[, "0.95LCL"]), upper = unname(tab[, "0.95UCL"]))
}
out$landmark_heart <- list(
  r_call = "d <- subset(p, futime > L); tx <- txtime <= L; survdiff/survfit(Surv(futime - L, dead) ~ tx)",
  results = lapply(c(30, 90, 180), lm_one))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), "sim3.json")
