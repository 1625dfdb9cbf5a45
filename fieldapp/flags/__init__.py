"""Fabrication flags (issue 12, 准确率): detectors raise them on collected records; reviewers read them
in words on the queue, the house page and the map, and clear each one only with a note."""
