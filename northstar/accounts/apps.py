from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "northstar.accounts"
    label = "accounts"
