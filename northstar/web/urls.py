"""Web UI routes. Project and repository names never collide with the fixed words here
(see RESERVED_NAMES in northstar/projects/names.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from northstar.web.views import changes, code, inbox, projects, review_diff, tokens

_repo = "<str:project>/<str:repo>/"
_change = _repo + "changes/<int:number>"

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
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read", inbox.inbox_read, name="inbox-read"),
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
    path(_repo + "settings/policy", changes.repo_policy, name="repo-policy"),
    # changes
    path(_repo + "changes", changes.change_list, name="change-list"),
    path(_repo + "changes/new", changes.change_new, name="change-new"),
    path(_change, changes.change_page, name="change"),
    path(_change + "/diff", review_diff.change_diff, name="change-diff"),
    path(_change + "/comment-form", review_diff.comment_form, name="comment-form"),
    path(_change + "/edit", changes.change_edit, name="change-edit"),
    path(_change + "/abandon", changes.change_abandon, name="change-abandon"),
    path(_change + "/restore", changes.change_restore, name="change-restore"),
    path(_change + "/retarget", changes.change_retarget, name="change-retarget"),
    path(_change + "/reviewers/add", changes.change_reviewer_add, name="reviewer-add"),
    path(_change + "/reviewers/<int:user_id>/remove", changes.change_reviewer_remove, name="reviewer-remove"),
    path(_change + "/override", changes.change_override, name="change-override"),
    path(_change + "/drafts", changes.draft_save, name="draft-save"),
    path(_change + "/drafts/<int:comment_id>/delete", changes.draft_delete, name="draft-delete"),
    path(_change + "/threads/<int:comment_id>/resolve", changes.thread_resolve, name="thread-resolve"),
    path(_change + "/review", changes.review_publish, name="review-publish"),
    path(_change + "/review-panel", changes.review_panel, name="review-panel"),
]
