//! Hearing and managing voice messages, main menu key 1.
//!
//! The mailbox is listed once as the caller opens it ([`Request::ListMessages`]; the store applies message
//! expiry first), its counts are said ("You have two new messages and one saved message"), then the messages
//! play in the store's order: new ones oldest first, then saved ones. Each one is fetched
//! ([`Request::FetchMessage`], off the media path) and played as its envelope (when and from whom) followed by
//! [`Audio::Message`]. A message played to its end becomes heard; keys pressed during it stop it and act on it:
//!
//! | key | does |
//! |---|---|
//! | `#` | save it, then the next message |
//! | `7` | delete it (at once, no undelete), then the next message |
//! | `2` | play it again (without the envelope) |
//! | `5` | say its envelope again |
//! | `4` | the previous message (`no_previous_message` at the first) |
//! | `6` | the next message, leaving this one where it is |
//! | `*` | back to the main menu |
//! | `1`, `3` | while it plays: back or forward 5 s within what is playing (the envelope's word, or the message), which goes on |
//!
//! After the last message `no_more_messages`, then the main menu. The list is the one read at opening: a
//! message saved during the call keeps its place until the caller opens the mailbox again.

use crate::PromptId;
use std::time::Duration;

use crate::io::{Audio, Digit, MessageFolder, MessageInfo, Output, PlayId, Request};
use crate::speech;

use super::Call;
use super::state::{After, MessageUpdate, Pending, Stage};

use PromptId as P;

/// How far keys 1 and 3 move within a playing message.
pub const SKIP: Duration = Duration::from_secs(5);

/// The mailbox's messages while the caller hears them.
#[derive(Debug)]
pub(super) struct Listening {
    /// The messages as listed at opening, less those deleted since.
    messages: Vec<MessageInfo>,
    /// The current message (may be one past the last: then there is none).
    index: usize,
    /// What to say before the next message (the counts, "message saved", "message deleted").
    preamble: Vec<Audio>,
    /// The playlist that ends with the current message's audio, while it plays: its end makes it heard.
    message_play: Option<PlayId>,
}

impl Listening {
    fn current(&self) -> Option<&MessageInfo> {
        self.messages.get(self.index)
    }
}

impl Call {
    /// Main menu key 1: list the mailbox's messages.
    pub(super) fn open_messages(&mut self) {
        let Some(mailbox) = self.mailbox() else {
            // Unreachable: the main menu follows a mailbox login.
            return self.invalid_option(Stage::MainMenu);
        };
        self.listening = None;
        self.request(Pending::ListMessages, Request::ListMessages { mailbox });
    }

    /// The store's list: say the counts, then play the first message.
    pub(super) fn messages_listed(&mut self, messages: Option<Vec<MessageInfo>>) {
        let Some(messages) = messages else {
            return self.leave_messages(vec![Audio::Prompt(P::MessagesUnavailable)]);
        };
        let count = |folder| messages.iter().filter(|m| m.folder == folder).count() as u32;
        let counts = speech::message_counts(
            self.config.language,
            count(MessageFolder::New),
            count(MessageFolder::Saved),
        );
        let preamble: Vec<Audio> = counts.into_iter().map(Audio::Prompt).collect();
        if messages.is_empty() {
            return self.leave_messages(preamble);
        }
        self.listening = Some(Listening {
            messages,
            index: 0,
            preamble,
            message_play: None,
        });
        self.fetch_current();
    }

    /// Fetches the current message's audio, or ends the list after the last one.
    fn fetch_current(&mut self) {
        let mailbox = self.mailbox();
        let Some(listening) = self.listening.as_mut() else {
            return self.ask_again(Stage::MainMenu);
        };
        listening.message_play = None;
        let (Some(message), Some(mailbox)) = (listening.current().map(|m| m.id), mailbox) else {
            let mut playlist = std::mem::take(&mut listening.preamble);
            playlist.push(Audio::Prompt(P::NoMoreMessages));
            return self.leave_messages(playlist);
        };
        self.request(
            Pending::FetchMessage,
            Request::FetchMessage { mailbox, message },
        );
    }

    /// The driver holds the current message's audio (or could not read it).
    pub(super) fn message_fetched(&mut self, fetched: bool) {
        if !fetched {
            return self.leave_messages(vec![Audio::Prompt(P::MessagesUnavailable)]);
        }
        self.play_message(true);
    }

    /// Plays the preamble, the envelope (when asked) and the current message, taking the message keys.
    fn play_message(&mut self, with_envelope: bool) {
        let language = self.config.language;
        let Some(listening) = self.listening.as_mut() else {
            return self.ask_again(Stage::MainMenu);
        };
        let Some(message) = listening.current().cloned() else {
            return self.fetch_current();
        };
        let mut playlist = std::mem::take(&mut listening.preamble);
        if with_envelope {
            let envelope = speech::envelope(language, &message.envelope);
            playlist.extend(envelope.into_iter().map(Audio::Prompt));
        }
        playlist.push(Audio::Message(message.id));
        self.ask(Stage::Message, playlist);
        let play = self.playing.map(|(id, _)| id);
        if let Some(listening) = self.listening.as_mut() {
            listening.message_play = play;
        }
    }

    /// The playlist `id` ended at the message stage. When it was the current message's, the message played to
    /// its end: mark it heard (unless it is already), then ask for the keys; returns whether it was.
    pub(super) fn message_played(&mut self, id: PlayId) -> bool {
        let Some(listening) = self.listening.as_mut() else {
            return false;
        };
        if listening.message_play != Some(id) {
            return false;
        }
        listening.message_play = None;
        let heard = listening.current().is_none_or(|message| message.heard);
        match (heard, self.current_request()) {
            (false, Some((mailbox, message))) => self.request(
                Pending::UpdateMessage(MessageUpdate::Heard),
                Request::MarkMessageHeard { mailbox, message },
            ),
            _ => self.ask_again(Stage::Message),
        }
        true
    }

    /// Keys 1 and 3 while the current message's playlist plays: back or forward [`SKIP`] within what plays,
    /// which goes on. Returns whether `digit` was such a key.
    pub(super) fn skips_in_message(&mut self, digit: Digit) -> bool {
        let back = match digit {
            Digit::Number(1) => true,
            Digit::Number(3) => false,
            _ => return false,
        };
        let playing = self.playing.map(|(id, _)| id);
        let in_message = playing.is_some()
            && self
                .listening
                .as_ref()
                .map(|listening| listening.message_play)
                == Some(playing);
        if in_message {
            self.outputs
                .push_back(Output::SkipPlayback { back, by: SKIP });
        }
        in_message
    }

    /// A key at the message stage (during the message, or after it).
    pub(super) fn message_key(&mut self, digit: Digit) {
        let Some(listening) = self.listening.as_mut() else {
            // Unreachable: the stage is entered only while listening.
            return self.ask_again(Stage::MainMenu);
        };
        listening.message_play = None;
        match digit {
            Digit::Pound => self.update_message(MessageUpdate::Save),
            Digit::Number(7) => self.update_message(MessageUpdate::Delete),
            Digit::Number(2) => self.play_message(false),
            Digit::Number(5) => {
                let language = self.config.language;
                let mut playlist = Vec::new();
                if let Some(message) = listening.current() {
                    let envelope = speech::envelope(language, &message.envelope);
                    playlist.extend(envelope.into_iter().map(Audio::Prompt));
                }
                playlist.push(Audio::Prompt(P::MessageMenu));
                self.ask(Stage::Message, playlist);
            }
            Digit::Number(4) => {
                if listening.index == 0 {
                    self.ask(
                        Stage::Message,
                        vec![
                            Audio::Prompt(P::NoPreviousMessage),
                            Audio::Prompt(P::MessageMenu),
                        ],
                    );
                } else {
                    listening.index -= 1;
                    self.fetch_current();
                }
            }
            Digit::Number(6) => {
                listening.index += 1;
                self.fetch_current();
            }
            Digit::Star => self.leave_messages(Vec::new()),
            _ => self.invalid_option(Stage::Message),
        }
    }

    /// Asks the store to save or delete the current message.
    fn update_message(&mut self, update: MessageUpdate) {
        let Some((mailbox, message)) = self.current_request() else {
            return self.fetch_current();
        };
        let request = match update {
            MessageUpdate::Heard => Request::MarkMessageHeard { mailbox, message },
            MessageUpdate::Save => Request::SaveMessage { mailbox, message },
            MessageUpdate::Delete => Request::DeleteMessage { mailbox, message },
        };
        self.request(Pending::UpdateMessage(update), request);
    }

    /// The store's answer to marking, saving or deleting the current message.
    pub(super) fn message_updated(&mut self, update: MessageUpdate, done: bool) {
        let Some(listening) = self.listening.as_mut() else {
            return self.ask_again(Stage::MainMenu);
        };
        match (update, done) {
            (MessageUpdate::Heard, _) => {
                // A mark that failed is not the caller's concern: the message stays unheard in the store.
                if let (true, Some(message)) = (done, listening.messages.get_mut(listening.index)) {
                    message.heard = true;
                }
                self.ask_again(Stage::Message);
            }
            (MessageUpdate::Save | MessageUpdate::Delete, false) => self.ask(
                Stage::Message,
                vec![Audio::Prompt(P::SaveFailed), Audio::Prompt(P::MessageMenu)],
            ),
            (MessageUpdate::Save, true) => {
                if let Some(message) = listening.messages.get_mut(listening.index) {
                    message.folder = MessageFolder::Saved;
                    message.heard = true;
                }
                listening.index += 1;
                listening.preamble = vec![Audio::Prompt(P::MessageSaved)];
                self.fetch_current();
            }
            (MessageUpdate::Delete, true) => {
                if listening.index < listening.messages.len() {
                    listening.messages.remove(listening.index);
                }
                listening.preamble = vec![Audio::Prompt(P::MessageDeleted)];
                self.fetch_current();
            }
        }
    }

    /// Leaves the messages: `playlist` (say, `no_more_messages`), then the main menu.
    fn leave_messages(&mut self, playlist: Vec<Audio>) {
        self.listening = None;
        if playlist.is_empty() {
            self.ask_again(Stage::MainMenu);
        } else {
            self.announce(playlist, After::Ask(Stage::MainMenu));
        }
    }

    /// The mailbox and the current message, for a request about it.
    fn current_request(&self) -> Option<(String, crate::io::MessageRef)> {
        let message = self.listening.as_ref()?.current()?.id;
        Some((self.mailbox()?, message))
    }

    /// The mailbox that logged in.
    fn mailbox(&self) -> Option<String> {
        self.login.as_ref().map(|login| login.mailbox.clone())
    }
}
