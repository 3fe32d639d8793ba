// Reports Contact creations, changes and deletions to the CEM connector (deletions make it forget the person).
trigger CemContactTrigger on Contact (after insert, after update, after delete) {
    List<Map<String, Object>> events = new List<Map<String, Object>>();
    Long now = Datetime.now().getTime();
    for (Contact record : Trigger.isDelete ? Trigger.old : Trigger.new) {
        String changeType = Trigger.isInsert ? 'CREATE' : (Trigger.isDelete ? 'DELETE' : 'UPDATE');
        Long changedAt = Trigger.isDelete ? now : record.SystemModstamp.getTime();
        events.add(CemNotify.event('Contact', record.Id, changeType, changedAt, null));
    }
    CemNotify.send(events);
}
