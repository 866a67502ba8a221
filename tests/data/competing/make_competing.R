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
