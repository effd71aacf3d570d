"""Contrastive self-supervision (the MRI paper's SimCLR, MoCo and BYOL): heads, losses and pretraining."""
from .contrastive import (METHODS, ContrastiveSettings, MoCoQueue, PredictionHead, ProjectionHead, byol_loss,
                          info_nce_loss, nt_xent_loss, pretrain)

__all__ = ["METHODS", "ContrastiveSettings", "pretrain", "nt_xent_loss", "info_nce_loss", "byol_loss", "MoCoQueue",
           "ProjectionHead", "PredictionHead"]
