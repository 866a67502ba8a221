# What R prints for the notebook API's print tests (tests/api/test_printing.py).
# Run from the repository root:  Rscript tests/data/reference/make_print.R
# Writes tests/data/reference/print/<name>.txt, one file per printed object.
suppressPackageStartupMessages(library(survival))
out <- "tests/data/reference/print"
dir.create(out, showWarnings = FALSE)
lung <- read.csv("tests/data/reference/data/lung.csv")
save <- function(name, expr) writeLines(capture.output(expr), file.path(out, paste0(name, ".txt")))
km <- survfit(Surv(time, status) ~ sex, data = lung)
save("lung_survfit_sex", print(km))
save("lung_survfit_sex_summary", print(summary(km, times = c(180, 365, 540, 730))))
save("lung_survfit_ecog", print(survfit(Surv(time, status) ~ ph.ecog, data = lung)))
save("lung_survfit_overall", print(survfit(Surv(time, status) ~ 1, data = lung)))
save("lung_survdiff_sex", print(survdiff(Surv(time, status) ~ sex, data = lung)))
cf <- coxph(Surv(time, status) ~ sex + age + ph.ecog, data = lung)
save("lung_coxph", print(cf))
save("lung_coxph_summary", print(summary(cf)))
save("lung_cox_zph", print(cox.zph(cf)))
save("lung_coxph_robust", print(coxph(Surv(time, status) ~ sex + age + ph.ecog, data = lung, robust = TRUE)))
save("lung_coxph_strata", print(coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung)))
jasa1 <- read.csv("tests/data/reference/data/jasa1.csv")
save("jasa1_survfit_counting", print(survfit(Surv(start, stop, event) ~ surgery, data = jasa1)))
save("jasa1_coxph_cluster", print(coxph(Surv(start, stop, event) ~ age + surgery + transplant + cluster(id), data = jasa1)))
save("lung_survfit_sex_summary_all", print(summary(km)))
lung_ps <- lung[!is.na(lung$ph.ecog), ]
lung_ps$female <- as.integer(lung_ps$sex == 2)
save("lung_glm", print(summary(glm(female ~ age + ph.ecog, family = binomial, data = lung_ps))))
save("R_version", cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n"))
