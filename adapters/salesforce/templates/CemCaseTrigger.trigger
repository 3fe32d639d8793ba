// Reports cases a contact opened or that changed (status, description) to the CEM connector.
trigger CemCaseTrigger on Case (after insert, after update) {
    List<Map<String, Object>> events = new List<Map<String, Object>>();
    for (Case record : Trigger.new) {
        if (record.ContactId != null) {
            events.add(CemNotify.event('Case', record.Id, Trigger.isInsert ? 'CREATE' : 'UPDATE',
                                       record.SystemModstamp.getTime(), new List<Id>{ record.ContactId }));
        }
    }
    CemNotify.send(events);
}
