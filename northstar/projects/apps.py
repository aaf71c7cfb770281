from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "northstar.projects"
    label = "projects"
