"""The BackMix paper's claims (Bransby et al., MICCAI 2024) and its findings map: §3.3, Tables 1–2, the abstract."""
from __future__ import annotations

from . import FINDINGS, Claim, Finding, register_claim

VS_BASELINE = ("against Baseline only: the other background methods are trained with fewer seeds (descriptive) and "
               "read by no claim")
OOD = "o.o.d. accuracy is the mean over the same o.o.d. sectors under four backgrounds (the phantom's o.o.d. battery)"
S33_ATTENDS = ("In comparison to other methods, BackMix attends the sector best (high %E and %F), enabling learning "
               "generalisable representations of the heart.")
S33_OOD = "This is reflected in the highest classification performance on the o.o.d dataset."
S33_ID = ("The decreased classification performance on TMED for background augmentation methods is expected as the "
          "shortcuts aiding performance are not learnt due to improved sector attention (higher %E and %F).")
S33_WORST = ("Augmentation methods which significantly alter images ('Black', 'Noise') fare worst in both i.d and "
             "o.o.d test sets due to the incurred distribution shift.")
ABSTRACT = ("We extend our method in a semi-supervised setting, finding that the positive effects of BackMix are "
            "maintained with as few as 5% of segmentation labels.")
S33_MAINTAINED = "High performance is maintained when using 5-10% supervision with an accuracy under 91% and an F1 score over 90%."
S33_DECREASES = "As the proportion of data to which BackMix is applied decreases, the performance naturally decreases."
S33_WBACKMIX = ("Performance increases when wBackMix is applied at 5% supervision, achieving an accuracy and F1 score "
                "comparable to BackMix at 20% supervision.")
WORST_DEPARTURE = ("against BackMix and o.o.d. only: 'worst' of every method would need each method at the claim's "
                   "seeds, and the paper's own Table 1 has Bokeh (87.9) and SMA (88.0) below Noise o.o.d.")

for _c in (
    Claim("9a", "backmix", "primary", "BackMix raises %E over Baseline (i.d. test maps, paired per image, points)",
          S33_ATTENDS, "BackMix §3.3, Table 1 (TMED %E)", "Baseline 77.9, BackMix 86.2", 8.3, unit="points",
          departure=VS_BASELINE),
    Claim("9b", "backmix", "secondary", "BackMix raises %F over Baseline (i.d. test maps, paired per image, points)",
          S33_ATTENDS, "BackMix §3.3, Table 1 (TMED %F)", "Baseline 92.3, BackMix 97.8", 5.5, unit="points",
          departure=VS_BASELINE),
    Claim("9c", "backmix", "primary", "BackMix raises o.o.d. accuracy over Baseline (points)", S33_OOD,
          "BackMix §3.3, Table 1 (WASE accuracy)", "Baseline 88.7, BackMix 92.4", 3.7, unit="points",
          departure=VS_BASELINE + "; " + OOD),
    Claim("9i", "backmix", "primary", "BackMix below Baseline in i.d. accuracy (points)", S33_ID,
          "BackMix §3.3, Table 1 (TMED accuracy)", "Baseline 97.7, BackMix 96.9", -0.8, "less", unit="points",
          departure="BackMix alone of the background methods"),
    Claim("9d", "backmix", "primary", "Black and Noise both below BackMix o.o.d. (the larger of Black - BackMix and "
                                      "Noise - BackMix, points)", S33_WORST, "BackMix §3.3, Table 1 (WASE accuracy)",
          "Black 89.8, Noise 89.3, BackMix 92.4", -2.6, "less", unit="points", departure=WORST_DEPARTURE + "; " + OOD),
    Claim("9d-black", "backmix", "secondary", "Black below BackMix o.o.d. (Black - BackMix, points)", S33_WORST,
          "BackMix §3.3, Table 1 (WASE accuracy)", "Black 89.8, BackMix 92.4", -2.6, "less", unit="points",
          departure=WORST_DEPARTURE),
    Claim("9d-noise", "backmix", "secondary", "Noise below BackMix o.o.d. (Noise - BackMix, points)", S33_WORST,
          "BackMix §3.3, Table 1 (WASE accuracy)", "Noise 89.3, BackMix 92.4", -3.1, "less", unit="points",
          departure=WORST_DEPARTURE),
    Claim("10a", "backmix", "primary", "BackMix with 5 % of masks raises o.o.d. accuracy over Baseline (f = 0.05 - "
                                       "Baseline, points)", ABSTRACT, "BackMix abstract; Table 2",
          "Baseline 88.7, f = 0.05: 90.8", 2.1, unit="points", departure=OOD),
    Claim("10a-ni", "backmix", "secondary", "BackMix with 5 % of masks not worse o.o.d. than with every mask by more "
                                            "than Δ (f = 0.05 - f = 1, points)", S33_MAINTAINED,
          "BackMix §3.3, Table 2", "f = 1: 92.4, f = 0.05: 90.8", -1.6, "noninferior", unit="points", departure=OOD),
    Claim("10d", "backmix", "primary", "BackMix with 5 % of masks below BackMix with every mask o.o.d. (f = 0.05 - "
                                       "f = 1, points)", S33_DECREASES, "BackMix §3.3, Table 2",
          "f = 1: 92.4, f = 0.05: 90.8", -1.6, "less", unit="points", departure=OOD),
    Claim("10b", "backmix", "primary", "wBackMix at f = 0.05 above BackMix at f = 0.05 o.o.d. (points)", S33_WBACKMIX,
          "BackMix §3.3, Table 2", "BackMix 90.8, wBackMix (λ = 1) 91.4", 0.6, unit="points", departure=OOD),
):
    register_claim(_c)

FINDINGS.extend([
    Finding("backmix", "abstract", "We validate our method on both in-distribution and out-of-distribution datasets, "
                                   "demonstrating significant improvements in classification accuracy, region focus "
                                   "and generalisability.", ("9a", "9c")),
    Finding("backmix", "abstract", ABSTRACT, ("10a",)),
    Finding("backmix", "§3.3", S33_ID, ("9i",)),
    Finding("backmix", "§3.3", S33_WORST, ("9d", "9d-black", "9d-noise")),
    Finding("backmix", "§3.3", "BackMix reduces this distribution shift as all backgrounds contain similar patterns "
                               "and pixel intensities.", why="an explanation, not a finding: it names no measurement"),
    Finding("backmix", "§3.3", S33_ATTENDS, ("9a", "9b")),
    Finding("backmix", "§3.3", S33_OOD, ("9c",)),
    Finding("backmix", "§3.3", S33_DECREASES, ("10d",)),
    Finding("backmix", "§3.3", S33_MAINTAINED, ("10a-ni",)),
    Finding("backmix", "§3.3", S33_WBACKMIX, ("10b",)),
    Finding("backmix", "§3.3", "The weighting value used appears to not have a significant impact, and we would "
                               "recommend a grid search to identify the best configuration.",
            why="not tested here: the study trains wBackMix with λ = 1 only"),
    Finding("backmix", "§3.3", "We find standard deviations of ±0.55 for accuracy, ±0.55 for F1, ±1.01 for %E, and "
                               "±0.70 for %F suggesting that the choice of samples has minimal impact on performance.",
            why="a spread, not an effect: notebook 05 shows the spread over mask subsets beside the paper's "
                "(descriptive)"),
    Finding("backmix", "Table 1", "Comparison of augmentation methods on TMED and WASE Normals (Black, Noise, Shuffle, "
                                  "Bokeh, CutMix, SMA, BackMix).", ("9a", "9b", "9c", "9i", "9d"),
            why="Shuffle, Bokeh, CutMix and SMA are shown by notebook 04 as descriptive rows (fewer seeds), no claim"),
    Finding("backmix", "Table 2", "Semi-supervised classification for different amounts of supervision on an "
                                  "out-of-distribution dataset (WASE Normals).", ("10a", "10a-ni", "10d", "10b"),
            why="f = 0.5, 0.2, 0.1, 0.01 and λ = 2 are descriptive rows of notebook 05, no claim"),
])
