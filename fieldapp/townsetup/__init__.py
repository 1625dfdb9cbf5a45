"""Setting up a town without the demo: the town, its villages and communities, sub-areas (片区/楼组),
quotas (admins, town.manage), and the village heads' assignment of collectors and informants to
sub-areas (town.assign). The command line twin is townsetup.cli (`flask --app fieldapp town`)."""


def init_app(app):
    from .views import bp

    app.register_blueprint(bp)
