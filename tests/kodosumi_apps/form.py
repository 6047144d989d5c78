"""Every form element, validated and re-rendered: the handler pops ``_global_`` and always
answers with errors (a global message and one per field), so it never launches."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, InputsError
# kodosumi: from kodosumi.core import forms as F
from flows import InputsError, ServeAPI
from flows import forms as F

app = ServeAPI()
seen: list[dict[str, Any]] = []

model = F.Model(
    F.Markdown("# Form Elements"),
    F.Errors(),
    F.Break(),
    F.InputText(label="Name", name="name", placeholder="Enter your name"),
    F.InputNumber(label="Age", name="age", min_value=0, max_value=120, step=1),
    F.InputNumber(label="Weight", name="weight"),
    F.Checkbox(label="Active", name="active", value=True, option="Go for it"),
    F.Select(
        label="Item",
        name="item",
        option=[
            F.InputOption("item1", "One"),
            F.InputOption("item2", "Two"),
            F.InputOption("item3", "Three"),
        ],
        value="item3",
    ),
    F.InputArea(label="Bio", name="bio"),
    F.InputDate(label="Birthday", name="birthday", min_date="1900-01-01", max_date="2100-12-31"),
    F.InputTime(label="Wake up", name="wake"),
    F.InputDateTime(label="Meeting", name="meeting"),
    F.Action(text="Save draft", value="draft", name="action"),
    F.Action(text="Publish", value="publish", name="action"),
    F.Submit("Submit"),
    F.Cancel("Cancel"),
)


@app.enter("/elements", model=model, summary="Form Elements Example")
async def enter(request: Any, inputs: dict) -> Any:
    seen.append(dict(inputs))
    inputs.pop("_global_")
    error = InputsError(f"Received {len(inputs)} values")
    error.add(name=f"got {inputs['name']!r}")
    error.add(age=f"got {inputs['age']!r}")
    error.add(active=f"got {inputs['active']!r}")
    error.add(item=f"got {inputs['item']!r}")
    error.add(birthday=f"got {inputs['birthday']!r}")
    error.add(wake=f"got {inputs['wake']!r}")
    error.add(meeting=f"got {inputs['meeting']!r}")
    raise error
