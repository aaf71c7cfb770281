from django.apps import AppConfig


class GitserverConfig(AppConfig):
    name = "northstar.gitserver"
    label = "gitserver"
