"""What the agent hears at wrap-up: configured prompts or built-in TTS defaults.

A prompt is a sound file (played by the switch) or ``tts:<text>``. The defaults are TTS so that a
fresh install speaks sensible English without recording anything; PBX admins replace them with
files under ``capture.prompts`` in dispositions.yaml. A prompt that waits for digits must be ONE
playable string (the agent can key through it), so TTS there becomes FreeSWITCH's ``say:<text>``
play syntax, which needs the channel's ``tts_engine``/``tts_voice`` set first.
"""

from __future__ import annotations

from dataclasses import dataclass

from esl_apps.call import Call
from esl_apps.config.dispositions import Capture

__all__ = ["DEFAULT_PROMPTS", "PromptSet", "Voice"]

DEFAULT_PROMPTS: dict[str, str] = {
    "enter_code": "tts:Please enter the disposition code, then press pound.",
    "enter_codes": "tts:Please enter the disposition codes, separated by star, then press pound.",
    "enter_category": "tts:Please enter the {category} code, then press pound.",
    "invalid": "tts:That entry is not valid.",
    "you_entered": "tts:You entered",
    "confirm": "tts:To confirm, press 1. To enter the codes again, press 2.",
    "callback_time": "tts:Enter the callback time in minutes from now, or as year, month, day, hour and "
    "minute, then press pound.",
    "invalid_time": "tts:That time cannot be used.",
    "callback_at": "tts:The call back is scheduled for",
    "saved": "tts:Thank you. The disposition is saved.",
}


@dataclass(frozen=True, slots=True)
class PromptSet:
    """The prompts in effect: the configured ones over the defaults."""

    prompts: dict[str, str]

    @classmethod
    def from_capture(cls, capture: Capture) -> PromptSet:
        chosen = dict(DEFAULT_PROMPTS)
        if capture.separator != "*":
            chosen["enter_codes"] = chosen["enter_codes"].replace("separated by star", "separated by pound")
            chosen["enter_code"] = chosen["enter_code"].replace("press pound", "press star")
        for name, value in capture.prompts.model_dump().items():
            if value:
                chosen[name] = value
                if name == "enter_code":  # one configured entry prompt serves both modes
                    chosen["enter_codes"] = value
        return cls(chosen)

    def get(self, name: str, **fields: str) -> str:
        text = self.prompts[name]
        for key, value in fields.items():
            text = text.replace("{" + key + "}", value)
        return text


def _tts_text(text: str) -> str:
    """TTS text inside a playable string: ``!`` separates file_string items, older FreeSWITCH
    splits ``say:`` at ``:``, and quotes would be taken as argument quoting."""
    return " ".join(text.replace("!", ".").replace(":", " ").replace("'", "").replace('"', "").split())


class Voice:
    """Plays prompts on one call, setting the TTS engine on the channel once when needed."""

    def __init__(
        self, call: Call, *, engine: str = "flite", voice: str = "kal", language: str = "en"
    ) -> None:
        self.call = call
        self.engine = engine
        self.voice = voice
        self.language = language
        self._tts_ready = False

    async def for_collect(self, prompt: str) -> str:
        if not prompt.startswith("tts:"):
            return prompt
        if not self._tts_ready:
            await self.call.set_var("tts_engine", self.engine)
            await self.call.set_var("tts_voice", self.voice)
            self._tts_ready = True
        return "say:" + _tts_text(prompt[4:])

    async def play(self, prompt: str) -> None:
        if prompt.startswith("tts:"):
            await self.call.speak(prompt[4:].strip(), self.engine, self.voice)
        else:
            await self.call.play(prompt)

    async def say_digits(self, digits: str) -> None:
        await self.call.say(self.language, "number", "iterated", digits)
