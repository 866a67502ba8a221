# Reference values for the study layer on the SYNTHETIC multi-product example
# (examples/multi_product). Input: example_all.csv, the study's cohort "all" (one row per
# first infusion) as tests/study/test_study_r_parity.py::test_frame_is_the_committed_one
# checks. Run from this folder:  Rscript make_study_reference.R  -> study_reference.json
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
d <- read.csv("example_all.csv", stringsAsFactors = FALSE, na.strings = "")
d$t <- d$os_days / 30.4375
d$product <- factor(d$product, levels = c("tisa-cel", "axi-cel", "brexu-cel", "cilta-cel"))
d$sex <- factor(d$sex, levels = c("female", "male"))
d$age_group <- factor(d$age_group, levels = c("<40", "40-64", ">=65"))
d$cytogenetic_risk <- factor(d$cytogenetic_risk,
                             levels = c("favourable", "intermediate", "adverse", "unknown"))

# the study's Cox model: covariates = ["age", "product", "sex", "sex:age"] (treatment contrasts)
fit <- coxph(Surv(t, os_event) ~ age + product + sex + sex:age, data = d, ties = "efron")
s <- summary(fit)$coefficients
z <- cox.zph(fit, transform = "km", terms = TRUE)
# univariable model of product (all its levels in one model)
uv <- coxph(Surv(t, os_event) ~ product, data = d, ties = "efron")
us <- summary(uv)$coefficients

kw <- kruskal.test(age ~ product, data = d)
tab_age <- table(d$product, d$age_group)
tab_cyto <- table(d$product, d$cytogenetic_risk)
f_age <- fisher.test(tab_age)
f_cyto <- fisher.test(tab_cyto, workspace = 2e7)

out <- list(
  R = R.version.string, survival = as.character(packageVersion("survival")),
  cox = list(terms = rownames(s), coef = unname(s[, "coef"]), se = unname(s[, "se(coef)"]),
             p = unname(s[, "Pr(>|z|)"]), n = fit$n, events = fit$nevent,
             zph_terms = rownames(z$table), zph_p = unname(z$table[, "p"])),
  cox_uv_product = list(terms = rownames(us), coef = unname(us[, "coef"]),
                        p = unname(us[, "Pr(>|z|)"])),
  kruskal_age_by_product = list(statistic = unname(kw$statistic), p = kw$p.value),
  fisher_age_group_by_product = list(table = unclass(tab_age), p = f_age$p.value),
  fisher_cytogenetic_risk_by_product = list(table = unclass(tab_cyto), p = f_cyto$p.value)
)
write_json(out, "study_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
