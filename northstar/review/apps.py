from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "northstar.review"
    label = "review"
