//! Standard MIDI File export of a [`Composition`].
//!
//! Format 1 at 480 ticks per quarter note, five tracks: a tempo/meta track (title, tempo, 4/4,
//! key signature) and one track per part in [`Part::ALL`] order, each with its name, a General
//! MIDI program (not for drums) and its notes. Channels: bass 1, chords 2, lead 3, drums 10
//! (0-based 0, 1, 2 and 9). At equal ticks note-offs come before note-ons, and the composer
//! never overlaps two notes of the same part and key, so every note-on has its own note-off.

use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::composer::{BassVoice, ChordVoice, Composition, Part, Timbre};

/// Ticks per quarter note.
pub const TICKS_PER_BEAT: u16 = 480;

/// A Standard MIDI File (format 1): a tempo/meta track (tempo, time signature 4/4, key
/// signature, track names) and one track per part (drums on channel 10), notes from the
/// composition. Bytes.
pub fn to_midi(c: &Composition) -> Vec<u8> {
    let title = format!("Optima: {} in {}", c.style.as_str(), c.key_name);
    let names: Vec<String> = Part::ALL.iter().map(|p| track_name(c, *p)).collect();
    let end = ticks(c, c.duration_secs);
    let mut smf = Smf::new(Header::new(Format::Parallel, Timing::Metrical(u15::new(TICKS_PER_BEAT))));
    smf.tracks.push(meta_track(c, &title, end));
    for (part, name) in Part::ALL.into_iter().zip(&names) {
        smf.tracks.push(part_track(c, part, name, end));
    }
    let mut out = Vec::new();
    smf.write_std(&mut out).expect("writing MIDI to memory cannot fail");
    out
}

/// Seconds → ticks at the composition's constant tempo.
fn ticks(c: &Composition, secs: f64) -> u32 {
    (secs / c.beat_secs() * f64::from(TICKS_PER_BEAT)).round().max(0.0) as u32
}

fn ev(delta: u32, kind: TrackEventKind<'_>) -> TrackEvent<'_> {
    TrackEvent { delta: u28::new(delta), kind }
}

fn meta_track<'a>(c: &Composition, title: &'a str, end: u32) -> Vec<TrackEvent<'a>> {
    let tempo = (60_000_000.0 / f64::from(c.bpm)).round() as u32;
    vec![
        ev(0, TrackEventKind::Meta(MetaMessage::TrackName(title.as_bytes()))),
        ev(0, TrackEventKind::Meta(MetaMessage::Tempo(u24::new(tempo)))),
        ev(0, TrackEventKind::Meta(MetaMessage::TimeSignature(4, 2, 24, 8))),
        ev(0, TrackEventKind::Meta(MetaMessage::KeySignature(c.key_signature, c.minor))),
        ev(end, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
    ]
}

fn part_track<'a>(c: &Composition, part: Part, name: &'a str, end: u32) -> Vec<TrackEvent<'a>> {
    let channel = u4::new(channel(part));
    let mut events = vec![ev(0, TrackEventKind::Meta(MetaMessage::TrackName(name.as_bytes())))];
    if part != Part::Drums {
        let program = u7::new(program(c, part));
        events.push(ev(0, TrackEventKind::Midi { channel, message: MidiMessage::ProgramChange { program } }));
    }
    // (tick, 0 = off / 1 = on, key, velocity), sorted so offs precede ons at the same tick.
    let mut timeline: Vec<(u32, u8, u8, u8)> = Vec::new();
    for n in c.part_notes(part) {
        let on = ticks(c, n.start);
        let off = ticks(c, n.start + n.length).max(on + 1);
        timeline.push((on, 1, n.pitch & 127, n.velocity.clamp(1, 127)));
        timeline.push((off, 0, n.pitch & 127, 0));
    }
    timeline.sort_unstable();
    let mut now = 0;
    for (tick, on, key, vel) in timeline {
        let (key, vel) = (u7::new(key), u7::new(vel));
        let message = if on == 1 { MidiMessage::NoteOn { key, vel } } else { MidiMessage::NoteOff { key, vel } };
        events.push(ev(tick - now, TrackEventKind::Midi { channel, message }));
        now = tick;
    }
    events.push(ev(end.saturating_sub(now), TrackEventKind::Meta(MetaMessage::EndOfTrack)));
    events
}

/// 0-based MIDI channel of a part.
fn channel(part: Part) -> u8 {
    match part {
        Part::Bass => 0,
        Part::Chords => 1,
        Part::Lead => 2,
        Part::Drums => 9,
    }
}

/// "Lead (flute)", "Bass", …
fn track_name(c: &Composition, part: Part) -> String {
    match part {
        Part::Drums => "Drums".to_owned(),
        Part::Bass => "Bass".to_owned(),
        Part::Chords => "Chords".to_owned(),
        Part::Lead => format!("Lead ({})", c.lead_timbre.as_str()),
    }
}

/// The nearest General MIDI program (0-based) to each sound.
fn program(c: &Composition, part: Part) -> u8 {
    match part {
        Part::Drums => 0,
        Part::Bass => match c.bass_voice {
            BassVoice::Saw => 38,
            BassVoice::Square => 33,
            BassVoice::Sub => 39,
            BassVoice::Upright => 32,
            BassVoice::Soft => 35,
        },
        Part::Chords => match c.chord_voice {
            ChordVoice::Pad => 89,
            ChordVoice::Stab => 81,
            ChordVoice::Piano => 0,
            ChordVoice::ElectricPiano => 4,
            ChordVoice::Guitar => 29,
        },
        Part::Lead => match c.lead_timbre {
            Timbre::Piano => 0,
            Timbre::Pluck => 24,
            Timbre::Saw => 81,
            Timbre::Strings => 48,
            Timbre::Bell => 14,
            Timbre::Flute => 73,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::composer::tests::params;
    use super::super::composer::{Style, compose};
    use super::*;

    /// (note-ons, note-offs, channels used, end tick) of a track.
    fn scan(track: &[TrackEvent<'_>]) -> (usize, usize, Vec<u8>, u32) {
        let (mut ons, mut offs, mut chans, mut t) = (0, 0, Vec::new(), 0u32);
        for e in track {
            t += e.delta.as_int();
            if let TrackEventKind::Midi { channel, message } = e.kind {
                match message {
                    MidiMessage::NoteOn { vel, .. } if vel.as_int() > 0 => ons += 1,
                    MidiMessage::NoteOn { .. } | MidiMessage::NoteOff { .. } => offs += 1,
                    _ => {}
                }
                if !chans.contains(&channel.as_int()) {
                    chans.push(channel.as_int());
                }
            }
        }
        (ons, offs, chans, t)
    }

    #[test]
    fn parses_back_with_the_expected_notes() {
        for style in [Style::Jazz, Style::Ambient, Style::Rock] {
            let c = compose(&params("test", style, 45, 4)).unwrap();
            let bytes = to_midi(&c);
            let smf = Smf::parse(&bytes).expect("valid SMF");
            assert_eq!(smf.header.format, Format::Parallel);
            assert_eq!(smf.header.timing, Timing::Metrical(u15::new(TICKS_PER_BEAT)));
            assert_eq!(smf.tracks.len(), 5);
            let end = ticks(&c, c.duration_secs);
            for (i, part) in Part::ALL.into_iter().enumerate() {
                let (ons, offs, chans, last) = scan(&smf.tracks[i + 1]);
                let expected = c.part_notes(part).count();
                assert_eq!((ons, offs), (expected, expected), "{style:?} {part:?}");
                if expected > 0 {
                    assert_eq!(chans, vec![channel(part)], "{part:?}");
                }
                assert_eq!(last, end, "every track ends with the piece");
            }
            if style == Style::Ambient {
                assert_eq!(scan(&smf.tracks[1]).0, 0, "ambient has an empty drum track");
            }
        }
    }

    #[test]
    fn meta_track_has_tempo_meter_and_key() {
        let mut p = params("test", Style::Pop, 20, 1);
        p.bpm = Some(120);
        p.key = Some("Eb minor".into());
        let c = compose(&p).unwrap();
        let bytes = to_midi(&c);
        let smf = Smf::parse(&bytes).unwrap();
        let metas: Vec<MetaMessage<'_>> = smf.tracks[0]
            .iter()
            .filter_map(|e| if let TrackEventKind::Meta(m) = e.kind { Some(m) } else { None })
            .collect();
        assert!(metas.contains(&MetaMessage::Tempo(u24::new(500_000))));
        assert!(metas.contains(&MetaMessage::TimeSignature(4, 2, 24, 8)));
        assert!(metas.contains(&MetaMessage::KeySignature(-6, true)));
        assert!(matches!(metas[0], MetaMessage::TrackName(n) if n == b"Optima: pop in Eb minor"));
        let names: Vec<&[u8]> = smf.tracks[1..]
            .iter()
            .map(|t| match t[0].kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => n,
                _ => panic!("track without a name first"),
            })
            .collect();
        assert_eq!(&names[..3], &[&b"Drums"[..], b"Bass", b"Chords"]);
        assert!(names[3].starts_with(b"Lead ("));
    }

    #[test]
    fn notes_land_on_the_beat_grid() {
        // An unswung style: every note-on is on a 16th (120 ticks) at 480 per beat.
        let c = compose(&params("test", Style::Electronic, 30, 2)).unwrap();
        let smf_bytes = to_midi(&c);
        let smf = Smf::parse(&smf_bytes).unwrap();
        for track in &smf.tracks[1..] {
            let mut t = 0u32;
            for e in track {
                t += e.delta.as_int();
                if let TrackEventKind::Midi { message: MidiMessage::NoteOn { .. }, .. } = e.kind {
                    assert_eq!(t % 120, 0, "tick {t}");
                }
            }
        }
        assert_eq!(to_midi(&c), smf_bytes, "deterministic bytes");
    }
}
