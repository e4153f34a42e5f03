//! Several finite inputs as one stream in event-time order, for `replay`.
//!
//! Each input is a lane (reader → framer → decoder). The lane with the
//! earliest next event streams its events *borrowed* until one is later than
//! every other lane's next event; only that one event per switch is copied.
//! A single input therefore streams with no copying at all, and a big access
//! log merged with a small auth log copies about one event per auth line.

use std::io::{self, Read};

use crate::parse::Event;
use crate::pipeline::{Decoder, EventSink, Stats};
use crate::source::framer::Framer;

/// One input of the merge.
pub struct Lane {
    pub name: String,
    reader: Box<dyn Read + Send>,
    framer: Framer,
    pub decoder: Decoder,
    head: Option<Event<'static>>,
    exhausted: bool,
}

impl Lane {
    pub fn new(
        name: String,
        reader: Box<dyn Read + Send>,
        max_line: usize,
        decoder: Decoder,
    ) -> Lane {
        Lane {
            name,
            reader,
            framer: Framer::new(max_line),
            decoder,
            head: None,
            exhausted: false,
        }
    }
}

/// Passes events at or before `bound` on; keeps the first later one.
struct Bounded<'s> {
    bound: i64,
    inner: &'s mut dyn EventSink,
    over: Option<Event<'static>>,
}

impl EventSink for Bounded<'_> {
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        if self.over.is_none() && ev.time.unix_micros <= self.bound {
            self.inner.event(ev)
        } else if self.over.is_none() {
            self.over = Some(ev.clone().into_owned());
            Ok(())
        } else {
            // Cannot happen: the lane stops at the first event over the bound.
            Err(io::Error::other("merge: a lane ran past its bound"))
        }
    }
}

/// Reads `lane` until `sink` holds an overflow event or the input ends.
/// `progress` gets the bytes read.
fn run_lane(
    lane: &mut Lane,
    sink: &mut Bounded<'_>,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    loop {
        while let Some(frame) = lane.framer.next_frame() {
            lane.decoder.frame(frame, sink)?;
            if sink.over.is_some() {
                return Ok(());
            }
        }
        if lane.exhausted {
            return Ok(());
        }
        let n = lane.framer.fill(&mut *lane.reader)?;
        progress(n as u64);
        if n == 0 {
            lane.exhausted = true;
            // a finished input's last line needs no newline
            if let Some(frame) = lane.framer.take_rest() {
                lane.decoder.frame(frame, sink)?;
            }
            return Ok(());
        }
    }
}

/// Feeds every lane's events to `sink` in event-time order (stable: ties go
/// to the earlier lane). Within one lane, lines keep their file order.
pub fn merge(
    lanes: &mut [Lane],
    sink: &mut dyn EventSink,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    // Prime: every lane's first event.
    for lane in lanes.iter_mut() {
        let mut b = Bounded {
            bound: i64::MIN,
            inner: sink,
            over: None,
        };
        run_lane(lane, &mut b, progress)?;
        lane.head = b.over;
    }
    loop {
        let mut best: Option<usize> = None;
        for (i, l) in lanes.iter().enumerate() {
            if let Some(h) = &l.head {
                if best.is_none_or(|b| {
                    h.time.unix_micros
                        < lanes[b]
                            .head
                            .as_ref()
                            .map_or(i64::MAX, |x| x.time.unix_micros)
                }) {
                    best = Some(i);
                }
            }
        }
        let Some(i) = best else {
            return Ok(());
        };
        let bound = lanes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, l)| l.head.as_ref().map(|h| h.time.unix_micros))
            .min()
            .unwrap_or(i64::MAX);
        let lane = &mut lanes[i];
        if let Some(h) = lane.head.take() {
            sink.event(&h)?;
        }
        let mut b = Bounded {
            bound,
            inner: sink,
            over: None,
        };
        run_lane(lane, &mut b, progress)?;
        lane.head = b.over;
    }
}

/// The summed stats of all lanes.
pub fn total_stats(lanes: &[Lane]) -> Stats {
    let mut s = Stats::default();
    for l in lanes {
        s.add(&l.decoder.stats);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Format, LocalTime};

    struct Collect(Vec<(u32, i64)>);
    impl EventSink for Collect {
        fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
            self.0.push((ev.source, ev.time.unix_secs()));
            Ok(())
        }
    }

    fn lane(i: u32, secs: &[i64]) -> Lane {
        let text: String = secs
            .iter()
            .map(|s| {
                format!(
                    "{{\"ts\":\"{}\",\"path\":\"/\"}}\n",
                    jiff::Timestamp::from_second(*s).unwrap()
                )
            })
            .collect();
        let local = LocalTime::new(jiff::tz::TimeZone::UTC, jiff::Timestamp::now());
        let d = Decoder::for_format(
            &Format::from_name("json").unwrap(),
            &local,
            i,
            format!("l{i}"),
        );
        Lane::new(
            format!("l{i}"),
            Box::new(io::Cursor::new(text.into_bytes())),
            4096,
            d,
        )
    }

    #[test]
    fn merges_on_event_time_keeping_each_lanes_order() {
        let mut lanes = vec![
            lane(0, &[1, 2, 3, 10, 11, 12]),
            lane(1, &[0, 5, 11, 20]),
            lane(2, &[]),
        ];
        let mut out = Collect(Vec::new());
        merge(&mut lanes, &mut out, &mut |_| {}).unwrap();
        let times: Vec<i64> = out.0.iter().map(|x| x.1).collect();
        assert_eq!(times, vec![0, 1, 2, 3, 5, 10, 11, 11, 12, 20]);
        // tie at 11: the earlier lane first
        assert_eq!(out.0[6], (0, 11));
        assert_eq!(total_stats(&lanes).events, 10);
    }

    #[test]
    fn a_lane_out_of_order_within_itself_keeps_its_order() {
        let mut lanes = vec![lane(0, &[5, 3, 9]), lane(1, &[4])];
        let mut out = Collect(Vec::new());
        merge(&mut lanes, &mut out, &mut |_| {}).unwrap();
        assert_eq!(
            out.0.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![4, 5, 3, 9]
        );
    }
}
