// Stand-in for the platform's lightning-spinner (see card.js).
import { LightningElement, api } from 'lwc';

export default class Spinner extends LightningElement {
    @api alternativeText;
    @api size;
}
