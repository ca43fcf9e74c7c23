//! OPML 2.0 listing every configured source, so a reader can import them one by one.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::config::Config;

pub fn render(config: &Config) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    let write = |writer: &mut Writer<Vec<u8>>, event: Event| {
        writer
            .write_event(event)
            .expect("writing XML into memory cannot fail");
    };
    write(
        &mut writer,
        Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)),
    );
    let mut opml = BytesStart::new("opml");
    opml.push_attribute(("version", "2.0"));
    write(&mut writer, Event::Start(opml));
    write(&mut writer, Event::Start(BytesStart::new("head")));
    write(&mut writer, Event::Start(BytesStart::new("title")));
    write(&mut writer, Event::Text(BytesText::new(&config.feed.title)));
    write(&mut writer, Event::End(BytesEnd::new("title")));
    write(&mut writer, Event::End(BytesEnd::new("head")));
    write(&mut writer, Event::Start(BytesStart::new("body")));
    for source in config.sources() {
        let mut outline = BytesStart::new("outline");
        outline.push_attribute(("type", "rss"));
        outline.push_attribute(("text", source.name.as_str()));
        outline.push_attribute(("title", source.name.as_str()));
        outline.push_attribute(("xmlUrl", source.url.as_str()));
        write(&mut writer, Event::Empty(outline));
    }
    write(&mut writer, Event::End(BytesEnd::new("body")));
    write(&mut writer, Event::End(BytesEnd::new("opml")));
    writer.into_inner()
}
