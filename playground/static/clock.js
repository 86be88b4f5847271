// The "Fast-forward 15 min" control: moves the bot's reminder clock on (playground/clock_control.py),
// so update reminders of quiet incidents come due now. Self-contained: its own element and handler.

const button = document.getElementById("fast-forward");
const status = document.getElementById("clock-status");

async function fastForward() {
  button.disabled = true;
  try {
    const response = await fetch("/playground/clock/advance", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ minutes: 15 }),
    });
    const data = await response.json().catch(() => ({}));
    status.textContent = data.ok
      ? `Clock +${data.ahead_minutes} min`
      : `Could not move the clock: ${data.error || `HTTP ${response.status}`}`;
  } catch (error) {
    status.textContent = `The playground server did not answer (${error.message}).`;
  } finally {
    button.disabled = false;
  }
}

if (button && status) button.addEventListener("click", fastForward);
