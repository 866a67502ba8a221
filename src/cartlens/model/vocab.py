"""Controlled vocabularies of the registry.

Every enumerated field of :mod:`cartlens.model.schema` takes its allowed values from one of
these :class:`enum.StrEnum` classes; the value written in a file is the enum's *value* (the
string on the right), compared case-sensitively after trimming blanks. The docs
(``docs/data-model.md``) list them from here.
"""

from __future__ import annotations

from enum import StrEnum


class Sex(StrEnum):
    """Sex recorded at registration."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class Disease(StrEnum):
    """Underlying malignancy (WHO family)."""

    B_ALL = "B-ALL"
    T_ALL = "T-ALL"
    DLBCL = "DLBCL"
    PMBCL = "PMBCL"
    FL = "FL"
    MCL = "MCL"
    CLL = "CLL"
    MM = "MM"
    OTHER = "other"


class CytogeneticRisk(StrEnum):
    """Cytogenetic / molecular risk group at diagnosis."""

    FAVOURABLE = "favourable"
    INTERMEDIATE = "intermediate"
    ADVERSE = "adverse"
    UNKNOWN = "unknown"


class LastContactStatus(StrEnum):
    """Vital status at the last contact date."""

    ALIVE = "alive"
    DEAD = "dead"
    LOST = "lost_to_follow_up"


class TargetAntigen(StrEnum):
    """Antigen(s) targeted by the CAR construct (``+`` joins bispecific/tandem targets)."""

    CD19 = "CD19"
    CD22 = "CD22"
    CD19_CD22 = "CD19+CD22"
    CD20 = "CD20"
    BCMA = "BCMA"
    CD7 = "CD7"
    OTHER = "other"


class ScfvOrigin(StrEnum):
    """Species origin of the single-chain variable fragment."""

    MURINE = "murine"
    HUMANISED = "humanised"
    HUMAN = "human"
    UNKNOWN = "unknown"


class CostimDomain(StrEnum):
    """Co-stimulatory domain of the construct."""

    CD28 = "CD28"
    FOUR_1BB = "4-1BB"
    CD28_4_1BB = "CD28+4-1BB"
    OTHER = "other"
    UNKNOWN = "unknown"


class Lymphodepletion(StrEnum):
    """Lymphodepleting regimen before the infusion."""

    FLU_CY = "flu_cy"
    FLU = "flu"
    CY = "cy"
    BENDAMUSTINE = "bendamustine"
    OTHER = "other"
    NONE = "none"


class AntigenStatus(StrEnum):
    """Antigen (CD19) expression on the leukaemic cells."""

    POSITIVE = "positive"
    DIM = "dim"
    NEGATIVE = "negative"
    UNKNOWN = "unknown"


class ReinfusionReason(StrEnum):
    """Why a further CAR-T infusion (a new course) was given.

    The CIBMTR forms separate a *new course* from a planned split dose; a split dose shares the
    course number of the earlier infusion and needs no reason.
    """

    NO_RESPONSE = "no_response"
    PARTIAL_RESPONSE = "partial_response"
    MRD_POSITIVE_REMISSION = "mrd_positive_remission"
    LOSS_OF_B_CELL_APLASIA = "loss_of_b_cell_aplasia"
    CD19_POSITIVE_RELAPSE = "cd19_positive_relapse"
    EXTRAMEDULLARY_RELAPSE = "extramedullary_relapse"
    OTHER = "other"


class ResponseMethod(StrEnum):
    """How a response was assessed."""

    MARROW_MORPHOLOGY = "marrow_morphology"
    FLOW_MRD = "flow_mrd"
    PCR_MRD = "pcr_mrd"
    NGS_MRD = "ngs_mrd"
    PET_CT = "pet_ct"
    IMAGING = "imaging"
    CLINICAL = "clinical"
    OTHER = "other"


class ResponseStatus(StrEnum):
    """Disease status at an assessment.

    CR: complete remission with count recovery; CRi: complete remission with incomplete
    haematological recovery; PR: partial response; SD: stable disease; NR: no response
    (refractory); PD: progressive disease; relapse: relapse after a remission; NE: not
    evaluable.
    """

    CR = "CR"
    CRI = "CRi"
    PR = "PR"
    SD = "SD"
    NR = "NR"
    PD = "PD"
    RELAPSE = "relapse"
    NE = "NE"


class ToxicityType(StrEnum):
    """Kind of toxicity episode (ICAHT_early / ICAHT_late: a recorded EHA/EBMT 2023 ICAHT grade,
    compared with the grade computed from the ANC series, rule R063)."""

    CRS = "CRS"
    ICANS = "ICANS"
    ICAHT_EARLY = "ICAHT_early"
    ICAHT_LATE = "ICAHT_late"


class LegacyScale(StrEnum):
    """Grading scale of a legacy (pre-ASTCT) grade; kept as recorded, never converted."""

    LEE_2014 = "lee2014"
    PENN = "penn"
    MSKCC = "mskcc"
    CARTOX = "cartox"
    CTCAE_V4 = "ctcae_v4"
    CTCAE_V5 = "ctcae_v5"
    OTHER = "other"


class Hypotension(StrEnum):
    """Worst hypotension during a CRS episode (ASTCT 2019 terms)."""

    NONE = "none"
    NO_VASOPRESSOR = "no_vasopressor"
    ONE_VASOPRESSOR = "one_vasopressor"
    MULTIPLE_VASOPRESSORS = "multiple_vasopressors"


class OxygenSupport(StrEnum):
    """Most intensive oxygen support during a CRS episode (ASTCT 2019 terms).

    low_flow: nasal cannula <= 6 L/min or blow-by; high_flow: nasal cannula > 6 L/min,
    facemask, non-rebreather or Venturi mask; positive_pressure: CPAP, BiPAP, intubation and
    mechanical ventilation.
    """

    NONE = "none"
    LOW_FLOW = "low_flow"
    HIGH_FLOW = "high_flow"
    POSITIVE_PRESSURE = "positive_pressure"


class Consciousness(StrEnum):
    """Worst depressed level of consciousness during an ICANS episode (ASTCT 2019)."""

    NORMAL = "normal"
    AWAKENS_SPONTANEOUSLY = "awakens_spontaneously"
    AWAKENS_TO_VOICE = "awakens_to_voice"
    AWAKENS_TO_TOUCH = "awakens_to_touch"
    UNAROUSABLE = "unarousable"


class Seizure(StrEnum):
    """Worst seizure during an ICANS episode (ASTCT 2019)."""

    NONE = "none"
    RESOLVED_RAPIDLY = "resolved_rapidly"
    PROLONGED_OR_REPETITIVE = "prolonged_or_repetitive"


class MotorFinding(StrEnum):
    """Motor findings during an ICANS episode (ASTCT 2019)."""

    NONE = "none"
    DEEP_FOCAL_WEAKNESS = "deep_focal_weakness"


class CerebralOedema(StrEnum):
    """Raised intracranial pressure / cerebral oedema during an ICANS episode (ASTCT 2019).

    focal: focal/local oedema on neuroimaging; diffuse: diffuse oedema on neuroimaging,
    decerebrate/decorticate posturing, cranial nerve VI palsy, papilloedema or Cushing's triad.
    """

    NONE = "none"
    FOCAL = "focal"
    DIFFUSE = "diffuse"


class TransplantType(StrEnum):
    """Kind of haematopoietic stem-cell transplant."""

    ALLO = "allo"
    AUTO = "auto"


class DonorType(StrEnum):
    """Donor of an allogeneic transplant."""

    MATCHED_SIBLING = "matched_sibling"
    MATCHED_UNRELATED = "matched_unrelated"
    MISMATCHED_UNRELATED = "mismatched_unrelated"
    HAPLOIDENTICAL = "haploidentical"
    CORD_BLOOD = "cord_blood"
    AUTOLOGOUS = "autologous"
    OTHER = "other"


class Conditioning(StrEnum):
    """Intensity of the conditioning regimen."""

    MYELOABLATIVE = "myeloablative"
    REDUCED_INTENSITY = "reduced_intensity"
    NON_MYELOABLATIVE = "non_myeloablative"
    UNKNOWN = "unknown"


class RelapseType(StrEnum):
    """Kind of relapse or progression."""

    MORPHOLOGIC = "morphologic"
    MRD = "mrd"
    EXTRAMEDULLARY = "extramedullary"
    PROGRESSION = "progression"


class TherapyType(StrEnum):
    """Other anti-leukaemic therapy (not a registry CAR-T infusion, not an HSCT)."""

    CHEMOTHERAPY = "chemotherapy"
    TKI = "tki"
    BLINATUMOMAB = "blinatumomab"
    INOTUZUMAB = "inotuzumab"
    RADIOTHERAPY = "radiotherapy"
    DONOR_LYMPHOCYTE_INFUSION = "donor_lymphocyte_infusion"
    OTHER_CELL_THERAPY = "other_cell_therapy"
    OTHER = "other"


class TherapyIntent(StrEnum):
    """Intent of a later line of therapy."""

    SALVAGE = "salvage"
    CONSOLIDATION = "consolidation"
    MAINTENANCE = "maintenance"
    OTHER = "other"


class LabAnalyte(StrEnum):
    """Laboratory analyte of a ``labs`` row (units and ranges: :mod:`cartlens.model.labs`)."""

    ANC = "anc"
    PLATELETS = "platelets"
    HAEMOGLOBIN = "haemoglobin"
    LYMPHOCYTES = "lymphocytes"
    CD19_B_CELLS = "cd19_b_cells"
    IGG = "igg"
    FERRITIN = "ferritin"
    CRP = "crp"
    CAR_TRANSGENE = "car_transgene"
    CAR_POSITIVE_PCT = "car_positive_pct"


class LabUnit(StrEnum):
    """Unit of a laboratory value as written (``uL`` is a microlitre, ``ug`` a microgram)."""

    GIGA_PER_L = "10^9/L"
    CELLS_PER_UL = "cells/uL"
    G_PER_DL = "g/dL"
    G_PER_L = "g/L"
    MG_PER_DL = "mg/dL"
    MG_PER_L = "mg/L"
    UG_PER_L = "ug/L"
    NG_PER_ML = "ng/mL"
    COPIES_PER_UG_DNA = "copies/ug_DNA"
    PERCENT = "%"


class InfectionType(StrEnum):
    """Site or syndrome of an infection."""

    BLOODSTREAM = "bloodstream"
    PNEUMONIA = "pneumonia"
    UPPER_RESPIRATORY = "upper_respiratory"
    URINARY_TRACT = "urinary_tract"
    GASTROINTESTINAL = "gastrointestinal"
    SKIN_SOFT_TISSUE = "skin_soft_tissue"
    CNS = "cns"
    DISSEMINATED = "disseminated"
    FEVER_UNKNOWN_FOCUS = "fever_unknown_focus"
    OTHER = "other"


class OrganismClass(StrEnum):
    """Class of the causative organism of an infection."""

    BACTERIAL = "bacterial"
    VIRAL = "viral"
    FUNGAL = "fungal"
    PARASITIC = "parasitic"
    UNKNOWN = "unknown"


class InfectionSeverity(StrEnum):
    """Severity of an infection (CTCAE v5 grade 1-5: mild, moderate, severe, life-threatening,
    fatal)."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    LIFE_THREATENING = "life_threatening"
    FATAL = "fatal"


class MalignancyType(StrEnum):
    """Kind of second primary malignancy after CAR-T (t_cell: any T-cell lymphoma or leukaemia,
    the subject of the 2024 FDA boxed warning; myeloid: MDS, AML, MPN)."""

    T_CELL = "t_cell"
    MYELOID = "myeloid"
    OTHER_HAEMATOLOGICAL = "other_haematological"
    SOLID = "solid"
    NON_MELANOMA_SKIN = "non_melanoma_skin"


class CarStatus(StrEnum):
    """Whether the CAR transgene was found in the cells of a second malignancy."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    NOT_TESTED = "not_tested"


class DeathCause(StrEnum):
    """Primary cause of death."""

    RELAPSE_OR_PROGRESSION = "relapse_or_progression"
    CRS = "crs"
    ICANS = "icans"
    INFECTION = "infection"
    GVHD = "gvhd"
    OTHER_TOXICITY = "other_toxicity"
    OTHER = "other"
    UNKNOWN = "unknown"


#: Every vocabulary, by class name (used by the docs).
VOCABULARIES: dict[str, type[StrEnum]] = {
    cls.__name__: cls
    for cls in (
        Sex,
        Disease,
        CytogeneticRisk,
        LastContactStatus,
        TargetAntigen,
        ScfvOrigin,
        CostimDomain,
        Lymphodepletion,
        AntigenStatus,
        ReinfusionReason,
        ResponseMethod,
        ResponseStatus,
        ToxicityType,
        LegacyScale,
        Hypotension,
        OxygenSupport,
        Consciousness,
        Seizure,
        MotorFinding,
        CerebralOedema,
        TransplantType,
        DonorType,
        Conditioning,
        RelapseType,
        TherapyType,
        DeathCause,
        TherapyIntent,
        LabAnalyte,
        LabUnit,
        InfectionType,
        OrganismClass,
        InfectionSeverity,
        MalignancyType,
        CarStatus,
    )
}

#: Spellings accepted for boolean fields (case-insensitive); everything else is an error.
TRUE_TOKENS = ("true", "yes", "y", "1")
FALSE_TOKENS = ("false", "no", "n", "0")
