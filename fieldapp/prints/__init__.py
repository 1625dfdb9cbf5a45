"""Printed forms (issue 11, "Prints"): a house's 信息采集表 (one house, or every house of a village or
sub-area with a page break per house), an informant's 信息提供情况登记表, A4 print CSS, and the
`print-archive` command that saves a batch as PDF with the system's Chromium."""
from .views import bp


def init_app(app):
    app.register_blueprint(bp)
