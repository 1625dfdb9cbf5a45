"""Informant tips (信息提供情况登记): submitting, the collectors' tasks, verifying at the door, rewards facts."""
from .views import bp, init_app

__all__ = ["bp", "init_app"]
