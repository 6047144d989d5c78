"""The pretend workspace of local mode: a team, one channel and the people in it (pure data)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.fake.workspace import APP_ID, BOT_USER_ID, TEAM_ID


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str  # Slack's handle: lower case, no spaces
    real_name: str
    title: str


class Workspace(BaseModel):
    """Who is there: ``people`` are the pretend users the page switches between."""

    model_config = ConfigDict(frozen=True)

    team_id: str = TEAM_ID
    team_domain: str = "lockstep-local"
    app_id: str = APP_ID
    bot_user_id: str = BOT_USER_ID
    bot_name: str = "Lockstep"
    channel_id: str = "C0LOCKSTEP"
    channel_name: str = "lockstep"
    command: str = "/flow"
    people: tuple[Person, ...] = (
        Person(id="U0ALICE", name="alice", real_name="Alice Author", title="Author"),
        Person(id="U0BOB", name="bob", real_name="Bob Reviewer", title="Reviewer"),
        Person(id="U0CAROL", name="carol", real_name="Carol Reviewer", title="Reviewer"),
    )

    def person(self, user_id: str) -> Person:
        """The pretend user with this id; ``KeyError`` for anyone else."""
        for person in self.people:
            if person.id == user_id:
                return person
        raise KeyError(user_id)

    @property
    def members(self) -> dict[str, list[str]]:
        """``conversations.members``: the people and the bot are in the channel."""
        return {self.channel_id: [p.id for p in self.people] + [self.bot_user_id]}

    @property
    def names(self) -> dict[str, str]:
        """``users.info``: real names by user id."""
        return {p.id: p.real_name for p in self.people} | {self.bot_user_id: self.bot_name}
