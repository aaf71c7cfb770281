"""Web UI routes. Project and repository names never collide with the fixed words here
(see RESERVED_NAMES in northstar/projects/names.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from northstar.web.views import code, projects, tokens

_repo = "<str:project>/<str:repo>/"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="northstar/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", projects.home, name="home"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke", tokens.token_revoke, name="token-revoke"),
    path("projects/new", projects.project_new, name="project-new"),
    # projects
    path("<str:project>/", projects.project_page, name="project"),
    path("<str:project>/members", projects.project_members, name="project-members"),
    path("<str:project>/members/<int:member_id>/role", projects.member_role, name="member-role"),
    path("<str:project>/members/<int:member_id>/remove", projects.member_remove, name="member-remove"),
    path("<str:project>/settings", projects.project_settings, name="project-settings"),
    path("<str:project>/settings/archive", projects.project_archive, name="project-archive"),
    path("<str:project>/events", projects.project_events, name="project-events"),
    path("<str:project>/repositories/new", projects.repository_new, name="repository-new"),
    # repositories
    path(_repo, code.repo_summary, name="repo"),
    path(_repo + "tree/", code.repo_tree, name="repo-tree-root"),
    path(_repo + "tree/<path:rest>", code.repo_tree, name="repo-tree"),
    path(_repo + "blob/<path:rest>", code.repo_blob, name="repo-blob"),
    path(_repo + "raw/<path:rest>", code.repo_raw, name="repo-raw"),
    path(_repo + "switch", code.repo_switch, name="repo-switch"),
    path(_repo + "commits", code.repo_commits, name="repo-commits-default"),
    path(_repo + "commits/", code.repo_commits),
    path(_repo + "commits/<path:rest>", code.repo_commits, name="repo-commits"),
    path(_repo + "commit/<str:sha>", code.repo_commit, name="repo-commit"),
    path(_repo + "branches", code.repo_branches, name="repo-branches"),
    path(_repo + "tags", code.repo_tags, name="repo-tags"),
    path(_repo + "settings", code.repo_settings, name="repo-settings"),
    path(_repo + "settings/archive", code.repo_archive, name="repo-archive"),
]
