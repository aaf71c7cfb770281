from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "northstar.events"
    label = "events"
