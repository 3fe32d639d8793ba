// Reports calls, logged emails and other activities on a contact to the CEM connector.
trigger CemTaskTrigger on Task (after insert, after update) {
    List<Map<String, Object>> events = new List<Map<String, Object>>();
    for (Task record : Trigger.new) {
        if (record.WhoId != null) {
            events.add(CemNotify.event('Task', record.Id, Trigger.isInsert ? 'CREATE' : 'UPDATE',
                                       record.SystemModstamp.getTime(), new List<Id>{ record.WhoId }));
        }
    }
    CemNotify.send(events);
}
