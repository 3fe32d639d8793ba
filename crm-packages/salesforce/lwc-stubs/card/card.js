// Stand-in for the platform's lightning-card (base components exist only inside Salesforce), as sfdx-lwc-jest
// stubs them: the same public properties, the slotted body rendered as is.
import { LightningElement, api } from 'lwc';

export default class Card extends LightningElement {
    @api title;
    @api iconName;
}
