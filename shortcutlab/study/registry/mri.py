"""The MRI paper's claims (Nakashima et al., MLHC 2023) and its findings map: §5 and Tables 1–3."""
from __future__ import annotations

from . import FINDINGS, Claim, Finding, register_claim

DECORRELATED = ("read on the cm phantom's test patients rendered again with the cue random (decorrelated), in place "
                "of the paper's CM→ACDC transfer: the phantom's shift between sites is its cue, by construction")
IN_SET = "read on cm's in-set test images only (the study trains no acdc model from scratch)"
METHODS = {"simclr": ("SimCLR", 0.875, 0.978), "moco": ("MoCo", 0.835, 0.919), "byol": ("BYOL", 0.863, 0.925)}
S51_SEG = ("Unsurprisingly, the models trained using just the heart evaluated on the in-set test set on average "
           "achieved higher AUC.")
S51_FULL = ("Models trained using the full image yielded lower generalization performance compared to those trained "
            "using only heart, which suggests that adjacent tissue can be a source of misclassification.")
S51_BG = ("The results of models trained using only background images give further evidence that there are "
          "significant contextual cues contained in the adjacent tissue.")
S51_LARGE = ("The influence of the surrounding tissue can be large (Δ 0.124) as demonstrated by the difference "
             "between full images and segmented images.")
S51_RAND_NEG = "Neither the models for the CM or ACDC were able to outperform training using the full image."
S51_RAND_POS = "However, the Rand model did provide better generalizability to the ACDC dataset."
T1_AKS = "AKS and DSC metrics positively follow generalizability to ACDC."
S52_R = "that AKS is well correlated with the AUC in out-of-domain dataset (Figure 2)."
S53_CSS = ("We found that CSS frameworks were able to achieve higher AUCs compared to using either the full image or "
           "segmented image.")
S53_TRANSFER = ("Furthermore, we found that CSS was able to achieve better generalizability to the ACDC dataset "
                "compared to supervised pre-training despite large similarities in classes.")
S53_ALL = ("There was not a consistent best CSS paradigm although all CSS paradigms showed improved results compared "
           "to end-to-end training.")
T2_SIMILAR = "Pretrained models with full images can achieve similar results to non-pretrained models using segmented images."
S53_LOWER = "However, CSS yielded lower AKS and DSC values in the internal CM dataset at first glance."
S53_AMYL = "The AMYL class reduced AKS and DSC metrics following CSS compared to the other classes."

for _c in (
    Claim("1", "mri", "primary", "BG-only models classify above chance (cm AUC - 0.5)", S51_BG,
          "MRI §5.1; Table 1 caption ('lower, but non-random classification results')", "BG 0.784 ± 0.053 (CM)",
          0.284),
    Claim("2i", "mri", "primary", "Seg above Full in-set (cm test images, cue as in training; AUC difference)", S51_SEG,
          "MRI §5.1; Table 1 caption ('Heart only images (Seg) produces higher AUCs')",
          "in-set: CM Seg 0.806 vs Full 0.833, ACDC Seg 0.990 vs Full 0.838 (mean difference +0.062)", 0.062,
          departure=IN_SET,
          not_expected="the phantom's in-set test images carry the cue as in training and Full reads it, so Full "
                       "gains in-set what it loses where the cue is decorrelated (claim 2)"),
    Claim("2", "mri", "primary", "Seg above Full with the cue decorrelated (AUC difference)", S51_FULL, "MRI §5.1",
          "CM→ACDC: Seg 0.884 ± 0.115, Full 0.850 ± 0.133", 0.034, departure=DECORRELATED),
    Claim("3", "mri", "primary", "Full loses more AUC than Seg when the cue turns against the label (same patients; "
                                 "difference of AUC drops, cue agreeing - cue conflicting)", S51_LARGE, "MRI §5.1",
          "Δ 0.124 (the paper's Full-Seg difference)", 0.124,
          departure="read as a counterfactual: the same patients rendered with the cue agreeing and conflicting with "
                    "the label, where the paper measures the influence as a difference between Full and Seg"),
    Claim("4", "mri", "primary", "Rand above Full with the cue decorrelated (AUC difference)", S51_RAND_POS,
          "MRI §5.1; Table 1 caption ('does improve generalizability')",
          "CM→ACDC: Rand 0.884 ± 0.108, Full 0.850 ± 0.133", 0.034, departure=DECORRELATED),
    Claim("4n", "mri", "primary", "Rand not above Full in-set (cm test images; AUC difference, its upper bound below "
                                  "+Δ)", S51_RAND_NEG,
          "MRI §5.1; Table 1 caption ('not effective for in-set classification performance')",
          "in-set: CM Rand 0.801 vs Full 0.833, ACDC Rand 0.714 vs Full 0.838 (mean difference -0.078)", -0.078,
          "nonsuperior", departure=IN_SET),
    Claim("5a", "mri", "primary", "Seg has higher AKS than Full (cm test images, paired per image)", T1_AKS,
          "MRI Table 1 caption and its AKS CM row", "Seg 0.162 ± 0.095, Full 0.115 ± 0.072", 0.047, unit="overlap",
          departure="AKS on the cm test images (Table 1's CM row), where the paper's sentence speaks of ACDC"),
    Claim("5b", "mri", "secondary", "Rand has higher AKS than Full (cm test images, paired per image)", T1_AKS,
          "MRI Table 1 caption and its AKS CM row", "Rand 0.123 ± 0.077, Full 0.115 ± 0.072", 0.008, unit="overlap",
          departure="the second condition of the sentence; AKS on the cm test images as in 5a"),
    Claim("6", "mri", "primary", "Across models, mean AKS on the cm test images correlates with AUC with the cue "
                                 "decorrelated (Pearson r)", S52_R, "MRI §5.2, Figure 2",
          "a positive trend (no r printed)", None, unit="r",
          departure="the decorrelated cm test set stands in for ACDC, and AKS is read in-domain; the models are each "
                    "seed's cm models (Table 1's conditions and the contrastive ones)"),
    Claim("7", "mri", "primary", "CSS above both Full and Seg on cm (mean CSS AUC - the larger of Full's and Seg's)",
          S53_CSS, "MRI §5.3, Table 2 (AUC CM)",
          "CM: SimCLR 0.875, MoCo 0.835, BYOL 0.863 (mean 0.858); Full 0.833, Seg 0.806", 0.025,
          departure="the three methods' mean, one row; each method against Full is a secondary row (7-<method>-cm)"),
    Claim("7t", "mri", "primary", "CSS above Full after transfer to acdc (mean CSS AUC - Full's)", S53_TRANSFER,
          "MRI §5.3, Table 2 (AUC CM→ACDC)", "CM→ACDC: mean CSS 0.941, Full 0.850", 0.091,
          departure="the three methods' mean, one row; each method is a secondary row (7-<method>-acdc)"),
    Claim("7s", "mri", "primary", "CSS on full images similar to Seg on cm (mean CSS AUC - Seg's, inside ±Δ)",
          T2_SIMILAR, "MRI Table 2 caption",
          "CM: mean CSS 0.858, Seg 0.806 (the paper's own difference, +0.052, is larger than Δ)", 0.052,
          "equivalent"),
    Claim("8", "mri", "primary", "AMYL's AKS falls most from Full to CSS (raw AKS: AMYL's fall - the largest other "
                                 "class's fall, mean over the CSS methods)", S53_AMYL, "MRI §5.3, Table 3",
          "AKS: AMYL 0.113 → 0.062 (0.052 / 0.080 / 0.054), a fall of 0.051; HCM 0.071 → 0.038, a fall of 0.033; "
          "NICM, ICM about flat", 0.018, unit="overlap"),
    Claim("8n", "mri", "secondary", "AMYL's normalized AKS falls most from Full to CSS (normalized AKS: AMYL's fall - "
                                    "the largest other class's fall, mean over the CSS methods)", S53_AMYL,
          "MRI §5.3, Table 3", "raw AKS only (claim 8)", None, unit="overlap",
          departure="normalized AKS, (AKS - floor) / (ceiling - floor) per image with the image's own floor (its "
                    "mask's area share) and ceiling, so classes whose hearts differ in size compare fairly; the paper "
                    "reads raw AKS (claim 8)"),
    Claim("8cm", "mri", "primary", "CSS has lower AKS than Full on cm (mean CSS AKS - Full's, paired per image)",
          S53_LOWER, "MRI §5.3, Table 2 (AKS CM)",
          "AKS CM: Full 0.115; SimCLR 0.094, MoCo 0.102, BYOL 0.087 (mean 0.094)", -0.021, "less", unit="overlap"),
):
    register_claim(_c)
for _m, (_name, _cm, _acdc) in METHODS.items():
    register_claim(Claim(f"7-{_m}-cm", "mri", "secondary", f"{_name} above Full on cm (AUC difference)", S53_ALL,
                         "MRI §5.3, Table 2 (AUC CM)", f"{_name} {_cm:.3f}, Full 0.833", round(_cm - 0.833, 3)))
    register_claim(Claim(f"7-{_m}-acdc", "mri", "secondary", f"{_name} above Full after transfer to acdc (AUC "
                                                             f"difference)", S53_TRANSFER,
                         "MRI §5.3, Table 2 (AUC CM→ACDC)", f"{_name} {_acdc:.3f}, Full 0.850", round(_acdc - 0.850, 3)))

_NO_ACDC_MAPS = ("not tested here: the study computes no saliency maps for the models transferred to acdc, which a "
                 "claim on them would need")
FINDINGS.extend([
    Finding("mri", "§5.1", S51_SEG, ("2i",)),
    Finding("mri", "§5.1", "The model pre-trained using the CM dataset achieved better generalizability to ACDC dataset "
                           "compared to ImageNet pre-training.",
            why="not testable on a phantom offline: no ImageNet weights can be fetched, so the study's Zero is a "
                "linear probe on a random encoder"),
    Finding("mri", "§5.1", S51_FULL, ("2",)),
    Finding("mri", "§5.1", S51_BG, ("1",)),
    Finding("mri", "§5.1", S51_LARGE, ("3",)),
    Finding("mri", "§5.1", "Our attempts to de-correlate any potential background signal with the anatomy by "
                           "randomizing (Rand) the background during training achieved mostly negative results.",
            ("4n",)),
    Finding("mri", "§5.1", S51_RAND_NEG, ("4n",)),
    Finding("mri", "§5.1", S51_RAND_POS, ("4",)),
    Finding("mri", "Table 1 caption", "Heart only images (Seg) produces higher AUCs, suggesting the existence of "
                                      "contextual cues in the background.", ("2i",)),
    Finding("mri", "Table 1 caption", "This is supported by the results using only BG images which achieved lower, "
                                      "but non-random classification results.", ("1",)),
    Finding("mri", "Table 1 caption", "Randomizing (Rand) the background is not effective for in-set classification "
                                      "performance, but does improve generalizability.", ("4n", "4")),
    Finding("mri", "Table 1 caption", T1_AKS, ("5a", "5b")),
    Finding("mri", "§5.2", "No models achieved good correlation between model saliency and anatomy (Table 1) as "
                           "evaluated by either AKS or DSC metrics.",
            why="not testable: the paper sets no threshold for a good correlation"),
    Finding("mri", "§5.2", "However, both metrics of overlap between model saliency and anatomy (AKS and DSC) followed "
                           "the general trend of positive correlation with AUC.", ("6",)),
    Finding("mri", "§5.2, Figure 2", S52_R, ("6",)),
    Finding("mri", "§5.3", S53_CSS, ("7",)),
    Finding("mri", "§5.3", S53_TRANSFER, ("7t", "7-simclr-acdc", "7-moco-acdc", "7-byol-acdc")),
    Finding("mri", "§5.3", S53_ALL, ("7-simclr-cm", "7-moco-cm", "7-byol-cm"),
            why="its first half (no consistent best paradigm) is not tested: it states an absence of order"),
    Finding("mri", "Table 2 caption", T2_SIMILAR, ("7s",)),
    Finding("mri", "Table 2 caption", "There is clear improvement using in-domain CSS pretraining compared to end-to-end "
                                      "supervised models.", ("7", "7t")),
    Finding("mri", "Table 2 caption", "The improvement holds true for both our proposed overlap metric and DSC.",
            why=_NO_ACDC_MAPS + " (the improvement is in the transferred models' overlap; on cm, 8cm)"),
    Finding("mri", "Figure 3", "There are less activations outside of the heart with all 3 CSS paradigms (SimCLR, MoCo, "
                               "BYOL) compared to end-to-end supervised training (None and ImageNet).",
            why=_NO_ACDC_MAPS),
    Finding("mri", "§5.3", "The improvement in model saliency is correlated with the improvement in classification "
                           "performance (Figure 2).", ("6",)),
    Finding("mri", "§5.3", "The aggregated AKS and DSC showed improvement with CSS compared to the supervised "
                           "pre-training using the full image in the external ACDC dataset.", why=_NO_ACDC_MAPS),
    Finding("mri", "§5.3", S53_LOWER, ("8cm",)),
    Finding("mri", "§5.3", S53_AMYL, ("8", "8n")),
])
