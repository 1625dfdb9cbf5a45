"""Fabrication flags (准确率 starts here): raising them from collected records (detect.py, over the
pure rules in rules/fabrication.py) and showing and clearing them for reviewers."""
